// Replays the floods the hardening was built against, on loopback only, and reports the API
// process's memory, open descriptors and Redis clients before and during each, with /health's
// latency: `npm run build && node bench/flood.mjs [--slow=60] [--idle=2000] [--streams=3000]`.
// - slow:    unauthenticated uploads announcing 8 MB, sending 1 MB, then stalling;
// - idle:    connections that send headers announcing a body and nothing more;
// - keyed:   uploads with a valid key that stall mid-body (dropped at REQUEST_TIMEOUT_MS);
// - streams: SSE streams of one key on one job (all of a process's streams share a connection).
// Every loop is bounded in count and time, and everything it opened is closed at the end.
// Self-contained on purpose: it drives a built API process and reads /proc, nothing else.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';

const ROOT = resolve(import.meta.dirname, '..');
const flags = Object.fromEntries(
  process.argv
    .slice(2)
    .map((a) => a.replace(/^--/, '').split('='))
    .map(([k, v]) => [k, Number(v)]),
);
const SLOW = flags.slow ?? 60;
const IDLE = flags.idle ?? 2000;
const KEYED = flags.keyed ?? 60;
const STREAMS = flags.streams ?? 3000;
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
if (!['127.0.0.1', 'localhost'].includes(new URL(REDIS_URL).hostname)) throw new Error('loopback Redis only');
const prefix = `bench-flood-${randomBytes(4).toString('hex')}`;
const adminKey = `flood-admin-${randomBytes(12).toString('hex')}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const api = spawn(process.execPath, ['--max-old-space-size=2048', join(ROOT, 'api/dist/main.js')], {
  env: {
    PATH: process.env.PATH,
    REDIS_URL,
    REDIS_PREFIX: prefix,
    PORT: '0',
    LOG_LEVEL: 'info',
    LOG_FORMAT: 'json',
    BRIDGE_ADMIN_KEY: adminKey,
    REQUEST_TIMEOUT_MS: '5000',
    SSE_MAX_STREAMS: String(STREAMS + 10),
    SSE_MAX_STREAMS_PER_KEY: String(STREAMS + 10),
    MAX_CONNECTIONS: String(Math.max(4096, STREAMS + IDLE + 100)),
    RATE_LIMIT_MAX_REQUESTS: '0',
    AUTH_FAILURE_LIMIT: '0',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const url = await new Promise((resolveUrl, reject) => {
  createInterface({ input: api.stdout }).on('line', (line) => {
    try {
      const e = JSON.parse(line);
      if (e.msg === 'api listening') resolveUrl(e.url);
    } catch {
      // not a log line
    }
  });
  api.on('exit', (code) => reject(new Error(`api exited ${code}`)));
});
const port = Number(new URL(url).port);
const redis = new Redis(REDIS_URL);
const sockets = [];

async function sample(label) {
  const status = readFileSync(`/proc/${api.pid}/status`, 'utf8');
  const rssMiB = Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
  const fds = readdirSync(`/proc/${api.pid}/fd`).length;
  const clients = String(await redis.client('LIST'))
    .split('\n')
    .filter((l) => l.includes(`name=cli-bridge:${prefix}:`)).length;
  const t0 = performance.now();
  const health = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5_000) }).then(
    (r) => r.status,
    () => 'no answer',
  );
  const row = {
    label,
    rssMiB: Math.round(rssMiB),
    fds,
    redisClients: clients,
    health,
    healthMs: Math.round(performance.now() - t0),
  };
  console.log(JSON.stringify(row));
  return row;
}

function rawConnection(head, body = '') {
  return new Promise((resolveSock) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(head);
      if (body) s.write(body);
      resolveSock(s);
    });
    s.on('error', () => {});
    sockets.push(s);
  });
}

try {
  await sample('idle API');
  const created = await (
    await fetch(`${url}/admin/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'flood', maxQueued: 0 }),
    })
  ).json();
  const key = created.key;

  const MB = 'x'.repeat(1024 * 1024);
  for (let i = 0; i < SLOW; i++) {
    await rawConnection(
      `POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${8 * 1024 * 1024}\r\n\r\n`,
      MB,
    );
  }
  await sleep(1_000);
  await sample(`${SLOW} unauthenticated 8 MB uploads, stalled after 1 MB`);

  for (let i = 0; i < IDLE; i++) {
    await rawConnection(
      'POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n',
    );
  }
  await sleep(1_000);
  await sample(`${IDLE} idle partial-body connections`);

  for (let i = 0; i < KEYED; i++) {
    await rawConnection(
      `POST /jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${8 * 1024 * 1024}\r\n\r\n`,
      MB,
    );
  }
  await sleep(1_000);
  await sample(`${KEYED} keyed uploads stalled after 1 MB`);
  await sleep(6_000);
  await sample('6 s later (REQUEST_TIMEOUT_MS 5 s)');

  const job = await (
    await fetch(`${url}/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'claude', systemPrompt: '', userPrompt: 'no worker runs me' }),
    })
  ).json();
  for (let i = 0; i < STREAMS; i++) {
    await rawConnection(
      `GET /jobs/${job.id}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n\r\n`,
    );
  }
  await sleep(2_000);
  await sample(`${STREAMS} open event streams of one key`);
} finally {
  for (const s of sockets) s.destroy();
  api.kill('SIGTERM');
  await new Promise((r) => api.once('exit', r));
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (found.length) await redis.unlink(...found);
  } while (cursor !== '0');
  await redis.quit();
}
