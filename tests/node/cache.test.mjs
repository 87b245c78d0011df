// The response cache through the official `openai` npm client: a stream answered from the cache
// parses exactly like the live one (content, reasoning, tool calls, finish reason, usage), and a
// whole answer too. The cache is turned on per request (X-Zgate-Cache: on).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startWithClient, stopAll, weatherTool } from './harness.mjs';

const KEY = 'sk-node-cache-key';

let setup;
let client;

before(async () => {
  setup = await startWithClient(KEY, { defaultHeaders: { 'X-Zgate-Cache': 'on' } });
  ({ client } = setup);
});

after(() => stopAll(setup));

// Everything the SDK parsed from a stream, without the per-response id and time.
async function collect(params) {
  const { data: stream, response } = await client.chat.completions.create({ ...params, stream: true }).withResponse();
  const chunks = [];
  for await (const chunk of stream) {
    const { id, created, ...rest } = chunk;
    assert.match(id, /^chatcmpl-/);
    assert.ok(created > 0);
    chunks.push(rest);
  }
  return { chunks, cache: response.headers.get('x-cache') };
}

for (const [name, scenario, extra] of [
  ['content', 'plain chunks=6', {}],
  ['reasoning', 'reasoning', {}],
  ['tool calls', 'tool_stream', { tools: [weatherTool] }],
]) {
  test(`a cached stream parses like the live one: ${name}`, async () => {
    const params = {
      model: 'glm-4.5',
      temperature: 0,
      messages: [{ role: 'user', content: `[scenario:${scenario}] cache ${name}` }],
      stream_options: { include_usage: true },
      ...extra,
    };
    const live = await collect(params);
    assert.equal(live.cache, 'MISS');
    const hit = await collect(params);
    assert.equal(hit.cache, 'HIT');
    assert.deepEqual(hit.chunks, live.chunks);
    assert.ok(hit.chunks.at(-1).usage.total_tokens > 0);
  });
}

test('a cached whole answer parses like the live one', async () => {
  const params = { model: 'glm-4.5', temperature: 0, messages: [{ role: 'user', content: 'cache whole' }] };
  const live = await client.chat.completions.create(params);
  const { data: hit, response } = await client.chat.completions.create(params).withResponse();
  assert.equal(response.headers.get('x-cache'), 'HIT');
  assert.notEqual(hit.id, live.id);
  assert.deepEqual(hit.choices, live.choices);
  assert.deepEqual(hit.usage, live.usage);
});
