// End-to-end: the official `openai` npm client against zgate, with zgate-mock as the upstream.
// Both binaries are started here on port 0 (loopback only) and stopped afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { gatewayEnvFor, startGateway, startWithClient, stop, stopAll, weatherTool } from './harness.mjs';

const KEY = 'sk-node-test-key';

let setup;
let client;

before(async () => {
  setup = await startWithClient(KEY);
  ({ client } = setup);
});

after(() => stopAll(setup));

test('non-stream answer', async () => {
  const r = await client.chat.completions.create({ model: 'glm-4.5', messages: [{ role: 'user', content: 'Hi there' }] });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.model, 'glm-4.5');
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.match(r.choices[0].message.content, /You said: Hi there/);
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.ok(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0);
});

test('stream answer with include_usage', async () => {
  const stream = await client.chat.completions.create({
    model: 'glm-4.5-air',
    messages: [{ role: 'user', content: 'Stream please' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  const ids = new Set();
  for await (const chunk of stream) {
    ids.add(chunk.id);
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta?.content ?? '';
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.match(text, /You said: Stream please/);
  assert.equal(finish, 'stop');
  assert.ok(usage && usage.total_tokens > 0, 'usage chunk present');
  assert.equal(ids.size, 1, 'one id per stream');
});

test('stream without include_usage sends no usage chunk', async () => {
  const stream = await client.chat.completions.create({
    model: 'glm-4.5', messages: [{ role: 'user', content: 'no usage' }], stream: true,
  });
  for await (const chunk of stream) assert.ok(!chunk.usage, 'no usage unless asked');
});

test('reasoning through the thinking alias (stream and non-stream)', async () => {
  const r = await client.chat.completions.create({
    model: 'glm-4.5-thinking', messages: [{ role: 'user', content: 'Think first' }],
  });
  assert.ok(r.choices[0].message.reasoning_content.length > 0);
  assert.ok(r.choices[0].message.content.length > 0);

  const stream = await client.chat.completions.create({
    model: 'glm-4.5-thinking', messages: [{ role: 'user', content: 'Think first' }], stream: true,
  });
  let reasoning = '';
  let content = '';
  let reasoningAfterContent = false;
  for await (const chunk of stream) {
    const d = chunk.choices[0]?.delta ?? {};
    if (d.reasoning_content) { reasoning += d.reasoning_content; if (content) reasoningAfterContent = true; }
    if (d.content) content += d.content;
  }
  assert.ok(reasoning.length > 0, 'reasoning_content deltas');
  assert.ok(content.length > 0, 'content deltas');
  assert.equal(reasoningAfterContent, false);
});

test('tool call, non-stream, then the tool result round trip', async () => {
  const messages = [{ role: 'user', content: 'Weather in Lisbon?' }];
  const r = await client.chat.completions.create({ model: 'glm-4.6', messages, tools: [weatherTool] });
  const call = r.choices[0].message.tool_calls[0];
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  assert.equal(typeof JSON.parse(call.function.arguments), 'object');
  assert.ok(call.id);

  messages.push(r.choices[0].message);
  messages.push({ role: 'tool', tool_call_id: call.id, content: '21 C and sunny' });
  const r2 = await client.chat.completions.create({ model: 'glm-4.6', messages, tools: [weatherTool] });
  assert.equal(r2.choices[0].finish_reason, 'stop');
  assert.ok(r2.choices[0].message.content.length > 0);
});

test('tool call, streamed in fragments, reassembles', async () => {
  const stream = await client.chat.completions.create({
    model: 'glm-4.6',
    messages: [{ role: 'user', content: 'Weather? [scenario:tool_stream_repeat]' }],
    tools: [weatherTool],
    stream: true,
  });
  const calls = {};
  let finish = null;
  for await (const chunk of stream) {
    for (const c of chunk.choices) {
      for (const tc of c.delta?.tool_calls ?? []) {
        assert.equal(typeof tc.index, 'number');
        const cur = (calls[tc.index] ??= { id: undefined, name: '', args: '' });
        if (tc.id) { assert.equal(cur.id, undefined, 'id only on the first delta'); cur.id = tc.id; }
        if (tc.function?.name) cur.name += tc.function.name;
        if (tc.function?.arguments) cur.args += tc.function.arguments;
      }
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  assert.equal(finish, 'tool_calls');
  assert.ok(calls[0].id);
  assert.ok(calls[0].name.length > 0);
  assert.doesNotThrow(() => JSON.parse(calls[0].args));
});

test('upstream rate limit maps to RateLimitError', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'glm-4.5', messages: [{ role: 'user', content: '[scenario:err_1302]' }] }),
    (e) => e instanceof OpenAI.RateLimitError && e.status === 429,
  );
});

test('wrong client key maps to AuthenticationError', async () => {
  const bad = new OpenAI({ apiKey: 'sk-wrong', baseURL: client.baseURL, maxRetries: 0 });
  await assert.rejects(
    bad.chat.completions.create({ model: 'glm-4.5', messages: [{ role: 'user', content: 'x' }] }),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401,
  );
});

test('models list', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes('glm-4.5'));
  assert.ok(ids.includes('glm-4.5-thinking'));
});

// The start-up line names the allocator and how long mimalloc keeps an emptied page: 1 s by
// default (RSS stays flat under steady load), or what MIMALLOC_DECOMMIT_DELAY says.
test('allocator: pages are kept 1 s unless MIMALLOC_DECOMMIT_DELAY says otherwise', async (t) => {
  if (/allocator: system malloc/.test(setup.gateway.output)) {
    t.skip('this build uses the system allocator (-DZGATE_MIMALLOC=OFF)');
    return;
  }
  assert.match(setup.gateway.output, /allocator: mimalloc [\d.]+ \(empty pages returned after 1000 ms\)/);
  const other = await startGateway({ ...gatewayEnvFor(setup.mock, KEY), MIMALLOC_DECOMMIT_DELAY: '200' });
  try {
    assert.match(other.output, /allocator: mimalloc [\d.]+ \(empty pages returned after 200 ms\)/);
  } finally {
    await stop(other.child);
  }
});
