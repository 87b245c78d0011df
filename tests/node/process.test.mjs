// The zgate process as an operator runs it: signals, a log reader that goes away, and clients
// that are still uploading when an error is answered. Each test starts its own zgate (and a
// zgate-mock upstream) on loopback port 0.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMock, startGateway, stop, ZGATE_BIN } from './harness.mjs';

const KEY = 'sk-node-process-key';
let mock;

before(async () => { mock = await startMock(); });
after(async () => { await stop(mock?.child); });

function gatewayEnv(extra = {}) {
  return {
    ZGATE_API_KEYS: `proc=${KEY}`,
    ZGATE_UPSTREAM_URL: `http://127.0.0.1:${mock.port}/api/paas/v4`,
    ZGATE_UPSTREAM_KEY: 'upstream-test-key',
    ...extra,
  };
}

async function chat(port, text, key = KEY) {
  const r = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ model: 'glm-4.5', messages: [{ role: 'user', content: text }] }),
  });
  return { status: r.status, body: await r.text() };
}

// Collects a child's stderr from now on; `until(re)` resolves when it matches (bounded).
function watchOutput(child) {
  let seen = '';
  const waiters = [];
  const onData = (d) => {
    seen += d.toString();
    for (const w of waiters.splice(0)) { if (w.re.test(seen)) w.resolve(seen); else waiters.push(w); }
  };
  child.stderr.on('data', onData);
  child.stdout.on('data', onData);
  return {
    text: () => seen,
    until: (re, ms = 5000) => new Promise((resolve, reject) => {
      if (re.test(seen)) return resolve(seen);
      const t = setTimeout(() => reject(new Error(`no match for ${re} within ${ms} ms; output:\n${seen}`)), ms);
      waiters.push({ re, resolve: (s) => { clearTimeout(t); resolve(s); } });
    }),
  };
}

function exited(child, ms) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve({ code: child.exitCode, signal: child.signalCode });
    const t = setTimeout(() => resolve(null), ms);
    child.once('exit', (code, signal) => { clearTimeout(t); resolve({ code, signal }); });
  });
}

test('zgate keeps serving when the reader of its log goes away (no death by SIGPIPE)', async () => {
  const gw = await startGateway(gatewayEnv());
  try {
    // The reader of stdout and stderr closes its ends of the pipes.
    gw.child.stderr.destroy();
    gw.child.stdout.destroy();
    // Every request writes an access line to stderr within the recorder's 100 ms period.
    for (let i = 0; i < 10; ++i) {
      const r = await chat(gw.port, `after the log reader left ${i}`);
      assert.equal(r.status, 200);
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.equal(gw.child.exitCode, null, 'zgate exited');
    assert.equal(gw.child.signalCode, null, `zgate was killed by ${gw.child.signalCode}`);
  } finally {
    await stop(gw.child);
  }
});

test('SIGHUP reloads the configuration: keys change live, a stream in flight goes on, a bad file is refused', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zgate-hup-'));
  const file = join(dir, 'zgate.toml');
  const keysFile = (label, key) => `[[api_keys]]\nlabel = "${label}"\nkey = "${key}"\n`;
  writeFileSync(file, keysFile('first', 'sk-first-key-000000000001'));
  // The file's keys replace the environment's: start without ZGATE_API_KEYS.
  const env = gatewayEnv({ ZGATE_CONFIG: file });
  delete env.ZGATE_API_KEYS;
  const gw = await startGateway(env);
  const out = watchOutput(gw.child);
  try {
    assert.equal((await chat(gw.port, 'first key', 'sk-first-key-000000000001')).status, 200);

    // A slow stream starts under the old configuration and must finish whole.
    const res = await fetch(`http://127.0.0.1:${gw.port}/v1/chat/completions`, {
      method: 'POST',
      headers: { Authorization: 'Bearer sk-first-key-000000000001', 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'glm-4.5', stream: true,
        messages: [{ role: 'user', content: '[scenario:slow chunks=20 delay_ms=25]' }] }),
    });
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let streamed = decoder.decode((await reader.read()).value);  // the stream has begun
    const streaming = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return streamed;
        streamed += decoder.decode(value, { stream: true });
      }
    })();

    writeFileSync(file, keysFile('second', 'sk-second-key-00000000002'));
    gw.child.kill('SIGHUP');
    await out.until(/configuration reloaded \(generation 2\)/);
    assert.equal((await chat(gw.port, 'second key', 'sk-second-key-00000000002')).status, 200);
    assert.equal((await chat(gw.port, 'old key', 'sk-first-key-000000000001')).status, 401);
    await streaming;
    assert.match(streamed, /"finish_reason":"stop"/);
    assert.match(streamed, /data: \[DONE\]/);

    writeFileSync(file, 'this is = not [ valid toml\n');
    gw.child.kill('SIGHUP');
    await out.until(/configuration reload refused/);
    assert.equal((await chat(gw.port, 'after a bad reload', 'sk-second-key-00000000002')).status, 200);

    // A listen address change is reported as needing a restart; the rest applies.
    writeFileSync(file, `listen = "127.0.0.1:1"\n${keysFile('third', 'sk-third-key-000000000003')}`);
    gw.child.kill('SIGHUP');
    await out.until(/generation 3\).*need a restart.*listen/);
    assert.equal((await chat(gw.port, 'third key', 'sk-third-key-000000000003')).status, 200);
    assert.equal(gw.child.exitCode, null);
  } finally {
    await stop(gw.child);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('POST /admin/reload applies a good file and answers 422 naming the problem in a bad one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zgate-reload-'));
  const file = join(dir, 'zgate.toml');
  const admin = 'sk-admin-reload-0000000000009';
  const config = (label, key) => `admin_key = "${admin}"\n[[api_keys]]\nlabel = "${label}"\nkey = "${key}"\n`;
  writeFileSync(file, config('first', 'sk-first-key-000000000001'));
  const env = gatewayEnv({ ZGATE_CONFIG: file });
  delete env.ZGATE_API_KEYS;
  const gw = await startGateway(env);
  const reload = (key) => fetch(`http://127.0.0.1:${gw.port}/admin/reload`, {
    method: 'POST', headers: { Authorization: `Bearer ${key}` },
  });
  try {
    // A client key does not open it.
    assert.equal((await reload('sk-first-key-000000000001')).status, 401);

    writeFileSync(file, config('second', 'sk-second-key-00000000002'));
    const ok = await reload(admin);
    assert.equal(ok.status, 200);
    const body = await ok.json();
    assert.equal(body.reloaded, true);
    assert.equal(body.generation, 2);
    assert.deepEqual(body.restart_needed, []);
    assert.equal((await chat(gw.port, 'second key', 'sk-second-key-00000000002')).status, 200);
    assert.equal((await chat(gw.port, 'old key', 'sk-first-key-000000000001')).status, 401);

    writeFileSync(file, `admin_key = "${admin}"\nworkers = "two"\n`);
    const bad = await reload(admin);
    assert.equal(bad.status, 422);
    const err = (await bad.json()).error;
    assert.equal(err.code, 'config_rejected');
    assert.match(err.message, /workers/);
    assert.equal((await chat(gw.port, 'after a bad reload', 'sk-second-key-00000000002')).status, 200);
    assert.equal(gw.child.exitCode, null);
  } finally {
    await stop(gw.child);
    rmSync(dir, { recursive: true, force: true });
  }
});

// Resolves when `file` exists and contains `text` (bounded: the access file is flushed each second).
async function fileContains(file, text, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (existsSync(file) && readFileSync(file, 'utf8').includes(text)) return;
    if (Date.now() > deadline) throw new Error(`${file} did not get ${text} within ${ms} ms`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

async function chatWithId(port, id) {
  const r = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json', 'X-Request-Id': id },
    body: JSON.stringify({ model: 'glm-4.5', messages: [{ role: 'user', content: id }] }),
  });
  await r.text();
  return r.status;
}

test('SIGUSR1 reopens the access log file after logrotate renamed it, and zgate goes on', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zgate-usr1-'));
  const file = join(dir, 'access.log');
  const gw = await startGateway(gatewayEnv({ ZGATE_ACCESS_LOG_FILE: file }));
  const out = watchOutput(gw.child);
  try {
    assert.equal(await chatWithId(gw.port, 'before-rotate'), 200);
    await fileContains(file, 'request_id=before-rotate');
    renameSync(file, `${file}.1`);  // what logrotate does
    gw.child.kill('SIGUSR1');
    await out.until(/SIGUSR1 received: the log files were reopened/);
    assert.equal(await chatWithId(gw.port, 'after-rotate'), 200);
    await fileContains(file, 'request_id=after-rotate');
    const rotated = readFileSync(`${file}.1`, 'utf8');
    assert.match(rotated, /request_id=before-rotate/);
    assert.doesNotMatch(rotated, /after-rotate/);
    assert.doesNotMatch(readFileSync(file, 'utf8'), /before-rotate/);
    assert.equal(gw.child.exitCode, null);
    assert.equal(gw.child.signalCode, null);
  } finally {
    await stop(gw.child);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('SIGTERM drains and exits 0', async () => {
  const gw = await startGateway(gatewayEnv());
  const out = watchOutput(gw.child);
  assert.equal((await chat(gw.port, 'before SIGTERM')).status, 200);
  gw.child.kill('SIGTERM');
  const r = await exited(gw.child, 15000);
  assert.deepEqual(r, { code: 0, signal: null }, out.text());
  assert.match(out.text(), /zgate stopped/);
});

// Opens a slow stream; resolves once its first bytes arrived, with `rest`: the whole body.
function openStream(port, id) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ model: 'glm-4.5', stream: true,
      messages: [{ role: 'user', content: '[scenario:slow chunks=400 delay_ms=25]' }] });
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/chat/completions', agent: false,
      headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json', 'X-Request-Id': id } }, (res) => {
      let text = '';
      let started = false;
      const rest = new Promise((done) => {
        res.on('data', (d) => {
          text += d.toString();
          if (!started) { started = true; resolve({ status: res.statusCode, rest }); }
        });
        res.on('end', () => done(text));
        res.on('error', () => done(text));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('SIGTERM with 50 streams open: each ends with [DONE] and one access line, and zgate exits 0', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'zgate-term-'));
  const file = join(dir, 'zgate.toml');
  writeFileSync(file, '[timeouts]\nshutdown_grace_ms = 500\n');
  const gw = await startGateway(gatewayEnv({ ZGATE_CONFIG: file, ZGATE_LOG_FORMAT: 'json' }));
  const out = watchOutput(gw.child);
  try {
    const streams = await Promise.all(Array.from({ length: 50 }, (_, i) => openStream(gw.port, `term50-${i}`)));
    for (const s of streams) assert.equal(s.status, 200);
    gw.child.kill('SIGTERM');
    const bodies = await Promise.all(streams.map((s) => s.rest));
    for (const b of bodies) {
      assert.match(b, /data: \[DONE\]/);
      assert.match(b, /server_shutting_down/);  // cut at the end of the grace, in band
    }
    const r = await exited(gw.child, 15000);
    assert.deepEqual(r, { code: 0, signal: null }, out.text());
    for (let i = 0; i < 50; ++i) {
      const lines = out.text().split('\n').filter((l) => l.includes(`"request_id":"term50-${i}"`));
      assert.equal(lines.length, 1, `term50-${i}: ${lines.length} access lines`);
    }
  } finally {
    await stop(gw.child);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a Node client still uploading a large body gets the 401, not EPIPE or a reset', async () => {
  const gw = await startGateway(gatewayEnv());
  try {
    const body = Buffer.alloc(24 * 1024 * 1024, 0x61);
    const res = await new Promise((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1', port: gw.port, method: 'POST', path: '/v1/chat/completions',
        headers: { Authorization: 'Bearer wrong-key', 'Content-Type': 'application/json', 'Content-Length': body.length },
      }, (r) => {
        let text = '';
        r.on('data', (d) => { text += d; });
        r.on('end', () => resolve({ status: r.statusCode, text }));
        r.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(res.status, 401);
    assert.match(res.text, /invalid_api_key/);
  } finally {
    await stop(gw.child);
  }
});

test('without an upstream key and without --demo, zgate refuses to start and names what to set', async () => {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ZGATE_')));
  const child = spawn(ZGATE_BIN, [], {
    env: { ...env, ZGATE_API_KEYS: `proc=${KEY}`, ZGATE_LISTEN: '127.0.0.1:0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = watchOutput(child);
  const end = await exited(child, 10000);
  if (!end) child.kill('SIGKILL');
  assert.ok(end, 'zgate did not exit');
  assert.notEqual(end.code, 0);
  assert.match(out.text(), /ZGATE_UPSTREAM_KEY/);
  assert.match(out.text(), /--demo/);
});

test('the offline demo answers from the bundled mock when asked for (ZGATE_DEMO=true)', async () => {
  const gw = await startGateway({ ZGATE_API_KEYS: `proc=${KEY}`, ZGATE_UPSTREAM_KEY: '', ZGATE_DEMO: 'true' });
  try {
    assert.match(gw.output, /OFFLINE DEMO/);
    const r = await chat(gw.port, 'hello demo');
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body).object, 'chat.completion');
  } finally {
    await stop(gw.child);
  }
});
