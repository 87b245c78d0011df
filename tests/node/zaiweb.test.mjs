// End-to-end with the zai-web provider (the chat.z.ai web frontend, as the original Go proxy
// used it): the official `openai` client -> zgate (ZGATE_PROVIDER=zai-web) -> zgate-mock's
// chat.z.ai dialect, configured with the Go proxy's own variable names.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMock, startGateway, stop } from './harness.mjs';

const KEY = 'sk-zai-node-test';
const SECRET = 'node-test-signing-secret';
// A logged-in identity (JWT payload {"id":"user-42",...}): needed for image uploads.
const USER_TOKEN = 'eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6InVzZXItNDIiLCJlbWFpbCI6InRAZXhhbXBsZS5vcmcifQ.c2ln';

let mock;
let guestGateway;
let userGateway;
let guest;
let user;

before(async () => {
  mock = await startMock(['--zai-signing-secret', SECRET]);
  const common = {
    ZGATE_PROVIDER: 'zai-web',
    ZGATE_UPSTREAM_URL: `http://127.0.0.1:${mock.port}`,
    ZGATE_ZAI_SIGNING_SECRET: SECRET,
    API_KEY: KEY,  // the Go proxy's variable
  };
  guestGateway = await startGateway(common);
  userGateway = await startGateway({ ...common, UPSTREAM_TOKEN: USER_TOKEN });
  guest = new OpenAI({ apiKey: KEY, baseURL: `http://127.0.0.1:${guestGateway.port}/v1`, maxRetries: 0, timeout: 20000 });
  user = new OpenAI({ apiKey: KEY, baseURL: `http://127.0.0.1:${userGateway.port}/v1`, maxRetries: 0, timeout: 20000 });
});

after(async () => {
  await stop(guestGateway?.child);
  await stop(userGateway?.child);
  await stop(mock?.child);
});

test('zai-web: the Go proxy model names are listed', async () => {
  const ids = [];
  for await (const m of guest.models.list()) ids.push(m.id);
  for (const name of ['glm-4.5', 'glm-4.5-thinking', 'glm-4.5-search', 'glm-4.5-air', 'glm-4.5v', 'glm-4.6']) {
    assert.ok(ids.includes(name), name);
  }
});

test('zai-web: non-stream and stream answers', async () => {
  const r = await guest.chat.completions.create({ model: 'glm-4.5', messages: [{ role: 'user', content: '[scenario:t01]' }] });
  assert.equal(r.choices[0].message.content, 'Hello! How can I help you today?');
  assert.equal(r.usage.total_tokens, 27);

  const stream = await guest.chat.completions.create({
    model: 'glm-4.5', stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: '[scenario:t01]' }],
  });
  let text = '';
  let usage = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, 'Hello! How can I help you today?');
  assert.equal(usage.total_tokens, 27);
});

test('zai-web: thinking becomes reasoning_content without the details wrapper', async () => {
  const stream = await guest.chat.completions.create({
    model: 'glm-4.5-thinking', stream: true, messages: [{ role: 'user', content: '[scenario:t03]' }],
  });
  let reasoning = '';
  let content = '';
  for await (const chunk of stream) {
    const d = chunk.choices[0]?.delta ?? {};
    reasoning += d.reasoning_content ?? '';
    content += d.content ?? '';
  }
  assert.equal(reasoning, 'The user asks for 2+2.\nSimple arithmetic.');
  assert.equal(content, '2 + 2 = 4.');
});

test('zai-web: the search alias answers', async () => {
  const r = await guest.chat.completions.create({ model: 'glm-4.5-search', messages: [{ role: 'user', content: 'news?' }] });
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.ok(r.choices[0].message.content.length > 0);
});

test('zai-web: an image is uploaded and answered (logged-in token)', async () => {
  const png = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
  const r = await user.chat.completions.create({
    model: 'glm-4.5v',
    messages: [{ role: 'user', content: [
      { type: 'text', text: 'What is in this picture?' },
      { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
    ] }],
  });
  assert.equal(r.choices[0].finish_reason, 'stop');
});

test('zai-web: tool call round trip by prompt injection', async () => {
  const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
  const messages = [{ role: 'user', content: 'What is the weather in Paris?' }];
  const stream = await guest.chat.completions.create({ model: 'glm-4.5', messages, tools, stream: true });
  const call = { id: '', name: '', args: '' };
  let finish = null;
  let text = '';
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    if (!c) continue;
    text += c.delta?.content ?? '';
    for (const tc of c.delta?.tool_calls ?? []) {
      call.id ||= tc.id ?? '';
      call.name += tc.function?.name ?? '';
      call.args += tc.function?.arguments ?? '';
    }
    if (c.finish_reason) finish = c.finish_reason;
  }
  assert.equal(finish, 'tool_calls');
  assert.equal(call.name, 'get_weather');
  assert.equal(typeof JSON.parse(call.args), 'object');
  assert.ok(!text.includes('<Function_'), 'the trigger never reaches the client');

  messages.push({ role: 'assistant', content: null,
    tool_calls: [{ id: call.id, type: 'function', function: { name: call.name, arguments: call.args } }] });
  messages.push({ role: 'tool', tool_call_id: call.id, content: '18 C, cloudy' });
  const r2 = await guest.chat.completions.create({ model: 'glm-4.5', messages, tools });
  assert.equal(r2.choices[0].finish_reason, 'stop');
  assert.ok(r2.choices[0].message.content.length > 0);
});

test('zai-web: after a revoked guest token the next request signs in again', async () => {
  await assert.rejects(
    guest.chat.completions.create({ model: 'glm-4.5', messages: [{ role: 'user', content: '[scenario:revoke]' }] }),
    (e) => e instanceof OpenAI.APIError && e.status === 502,
  );
  const r = await guest.chat.completions.create({ model: 'glm-4.5', messages: [{ role: 'user', content: 'still there?' }] });
  assert.equal(r.choices[0].finish_reason, 'stop');
});

test('zai-web: upstream error forms are clear OpenAI errors', async () => {
  for (const [scenario, status, says] of [['http_405', 502, /firewall/], ['http_429', 429, /./], ['err_426', 502, /version/i],
                                          ['err_model_level', 403, /./]]) {
    await assert.rejects(
      guest.chat.completions.create({ model: 'glm-4.5', messages: [{ role: 'user', content: `[scenario:${scenario}]` }] }),
      (e) => { assert.equal(e.status, status, `${scenario}: ${e.message}`); assert.match(e.message, says); return true; },
    );
  }
});
