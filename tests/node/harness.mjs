// Shared helpers for the end-to-end tests: start zgate-mock and zgate on loopback port 0.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';

export const ZGATE_BIN = process.env.ZGATE_BIN ?? '../../build/zgate';
export const MOCK_BIN = process.env.ZGATE_MOCK_BIN ?? '../../build/zgate-mock';

// Starts `bin` and resolves with the child, the first match of `re` in its output (stdout or
// stderr) as `port`, and the output up to that match.
export function startAndWaitFor(bin, args, env, re) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${bin} did not start in time; output:\n${seen}`));
    }, 15000);
    const onData = (d) => {
      seen += d.toString();
      const m = seen.match(re);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), output: seen });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${bin} exited with ${code}; output:\n${seen}`));
    });
  });
}

export function stop(child) {
  return new Promise((resolve) => {
    // Already gone (exited, or killed by a signal: then exitCode stays null).
    if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => { clearTimeout(t); resolve(); });
    child.kill('SIGTERM');
  });
}


export function startMock(args = []) {
  return startAndWaitFor(MOCK_BIN, ['--listen', '127.0.0.1:0', ...args], {}, /listening on https?:\/\/[^\s:]+:(\d+)/);
}

// Each gateway keeps its usage store in a fresh temporary directory.
export function startGateway(env) {
  const dataDir = mkdtempSync(join(tmpdir(), 'zgate-node-'));
  process.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  return startAndWaitFor(ZGATE_BIN, [], { ZGATE_LISTEN: '127.0.0.1:0', ZGATE_WORKERS: '2', ZGATE_LOG_FORMAT: 'text',
    ZGATE_DATA_DIR: dataDir, ...env },
    /zgate listening on http:\/\/[^\s]+:(\d+)/);
}

// What a zgate in front of `mock` needs to admit the client key `key`.
export function gatewayEnvFor(mock, key) {
  return {
    ZGATE_API_KEYS: `node=${key}`,
    ZGATE_UPSTREAM_URL: `http://127.0.0.1:${mock.port}/api/paas/v4`,
    ZGATE_UPSTREAM_KEY: 'upstream-test-key',
  };
}

// A zgate-mock, a zgate in front of it admitting `key`, and an `openai` client of that key
// (`clientOptions` on top of no retries and a 20 s timeout). Stop both with stopAll().
export async function startWithClient(key, clientOptions = {}) {
  const mock = await startMock();
  let gateway;
  try {
    gateway = await startGateway(gatewayEnvFor(mock, key));
  } catch (e) {
    await stop(mock.child);
    throw e;
  }
  const client = new OpenAI({ apiKey: key, baseURL: `http://127.0.0.1:${gateway.port}/v1`, maxRetries: 0,
    timeout: 20000, ...clientOptions });
  return { mock, gateway, client };
}

export async function stopAll({ mock, gateway } = {}) {
  await stop(gateway?.child);
  await stop(mock?.child);
}

// One function tool, as the SDK's users declare it.
export const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
  },
};
