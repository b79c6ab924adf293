// Shared plumbing for the benches: bridge processes, Redis prefix cleanup, a keep-alive HTTP
// client, direct CLI spawns and percentile maths. Plain ESM over the built packages.
//
// What the benches share with the tests (paths, the Redis URL, key prefixes, the bridge's base
// environment, deleting a prefix's keys, the mock model server and the real-CLI set-up) lives
// once, in tests/helpers/*.ts. Node 20 cannot import .ts and the benches take no loader or other
// new dependency, so `npm run bench` compiles those helpers with plain tsc
// (tests/helpers/tsconfig.build.json) into the gitignored tests/dist/, and the benches import
// that; the tests keep importing the .ts files directly.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { Redis } from 'ioredis';
import { bridgeBaseEnv, REDIS_URL, ROOT, uniquePrefix } from '../../tests/dist/env.js';
import { deletePrefix, scanPrefix } from '../../tests/dist/prefix.js';

export { deletePrefix, REDIS_URL, ROOT };
export const ADMIN_KEY = `bench-admin-${randomBytes(12).toString('hex')}`;

// Benches send traffic to loopback only.
{
  const host = new URL(REDIS_URL).hostname;
  if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) {
    throw new Error(`benches only talk to a loopback Redis; REDIS_URL points at ${host}`);
  }
}

/**
 * Node flags that profile a bench's process when BENCH_PROFILE=1: `--cpu-prof` into
 * /tmp/prof/<role> (read the .cpuprofile with Chrome's DevTools or any cpuprofile reader).
 */
export function profileArgs(role) {
  return process.env.BENCH_PROFILE ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=/tmp/prof/${role}`] } : {};
}

/**
 * Extra environment for the bridge processes a bench starts, from BENCH_EXTRA_ENV (a JSON
 * object), for experiments: e.g. BENCH_EXTRA_ENV='{"KEY_CACHE_TTL_MS":"0"}'.
 */
function extraEnv() {
  return JSON.parse(process.env.BENCH_EXTRA_ENV ?? '{}');
}

export function newRedis() {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: 3, connectionName: 'cli-bridge:bench' });
}

/**
 * Environment for bridge processes (string values, as in process.env): the tests' base
 * (tests/helpers/env.ts `bridgeBaseEnv`), with NODE_ENV=production and LOG_LEVEL=info (a
 * deployment's defaults: the per-request access log line and the worker's "job completed" line
 * are written).
 */
export function bridgeEnv(prefix, overrides = {}) {
  return {
    // node first: codex's launcher is a `#!/usr/bin/env node` script.
    PATH: [dirname(process.execPath), process.env.PATH ?? '/usr/bin:/bin'].join(':'),
    HOME: process.env.HOME ?? '/tmp',
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    ...bridgeBaseEnv(prefix),
    BRIDGE_ADMIN_KEY: ADMIN_KEY,
    // The per-IP limiters stay switched on (their Redis round trips are part of every request)
    // but with ceilings a load test never reaches: the default RATE_LIMIT_MAX_REQUESTS is 30 a
    // minute, and AUTH_FAILURE_LIMIT (10) counts every request while it is in flight (see
    // BENCHMARKS.md), so 11+ concurrent valid requests from one address would get 429.
    RATE_LIMIT_MAX_REQUESTS: '1000000',
    AUTH_FAILURE_LIMIT: '1000000',
    WORKER_HEARTBEAT_MS: '1000',
    CLI_ENV_PASSTHROUGH: 'FAKE_CLI_MODE',
    // Every bench but `warm` measures cold spawns (the bridge's own overhead over a direct spawn).
    WARM_POOL_MAX: '0',
    ...overrides,
    ...extraEnv(),
  };
}

/** Every process a bench starts goes through here, so `stopAll()` can end exactly those. */
export function createProcessGroup() {
  const procs = new Set();

  /** `script` relative to the repo root; ready when a JSON stdout line satisfies `isReady`. */
  function start(
    kind,
    env,
    script = kind === 'api' ? 'api/dist/main.js' : 'worker/dist/main.js',
    isReady,
    nodeArgs = [],
    { readLogs = true } = {},
  ) {
    const readyMsg = kind === 'api' ? 'api listening' : 'worker started';
    isReady ??= (obj) => obj.msg === readyMsg;
    const proc = spawn(process.execPath, [...nodeArgs, join(ROOT, script)], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail = []; // last log lines, for error messages
    let stderr = '';
    proc.stderr.on('data', (d) => (stderr = (stderr + d.toString()).slice(-4000)));
    const exited = new Promise((r) => proc.on('exit', (code, sig) => r(code ?? sig)));
    const entry = {
      kind,
      proc,
      pid: proc.pid,
      url: undefined,
      tail,
      warnings: 0,
      /** durationMs of each "job completed" line (the CLI run as timed inside the worker). */
      cliDurations: [],
      /** The same, with the provider: [{ provider, durationMs }]. */
      cliRuns: [],
      /** TRACE_STAGES: jobId → the stage marks of its "stage trace" line. */
      traces: new Map(),
      exited,
      async stop() {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
        const code = await exited;
        clearTimeout(t);
        procs.delete(entry);
        return code;
      },
    };
    procs.add(entry);
    const ready = new Promise((resolveReady, reject) => {
      const lines = createInterface({ input: proc.stdout });
      lines.on('line', (line) => {
        tail.push(line);
        if (tail.length > 50) tail.shift();
        let obj;
        try {
          obj = JSON.parse(line);
        } catch {
          return;
        }
        if (obj.level >= 40) entry.warnings++;
        if (obj.msg === 'job completed' && typeof obj.durationMs === 'number') {
          entry.cliDurations.push(obj.durationMs);
          entry.cliRuns.push({ provider: obj.provider, durationMs: obj.durationMs });
        }
        if (obj.msg === 'stage trace' && typeof obj.jobId === 'string')
          entry.traces.set(obj.jobId, obj.stages);
        if (isReady(obj)) {
          if (obj.url) entry.url = String(obj.url);
          if (!readLogs) {
            // The process's log is drained unread from here on: parsing thousands of lines a
            // second would take CPU from the load generator sharing this process.
            lines.close();
            proc.stdout.on('data', () => {});
            proc.stdout.resume();
          }
          resolveReady(entry);
        }
      });
      void exited.then((code) => reject(new Error(`${script} exited (${code}) before ready: ${stderr}`)));
    });
    const timeout = new Promise((_, reject) =>
      setTimeout(() => reject(new Error(`${script} not ready within 20 s: ${stderr}`)), 20_000).unref(),
    );
    return Promise.race([ready, timeout]);
  }

  // "api listening" is logged before the API's Redis client is connected: requests in the first
  // few tens of ms answer 503. Wait for GET /ready = 200, as a load balancer's probe would.
  /**
   * `opts.nodeArgs`: extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] to profile;
   * `opts.readLogs: false`: drain its log unread once it is ready (no `tail`, warnings or traces).
   */
  async function startApi(env, opts = {}) {
    const api = await start('api', env, undefined, undefined, opts.nodeArgs, {
      readLogs: opts.readLogs ?? true,
    });
    const client = createHttpClient();
    try {
      for (let i = 0; ; i++) {
        const r = await client.get(`${api.url}/ready`);
        if (r.status === 200) break;
        api.notReadyAfterListening = i + 1;
        if (i > 400) throw new Error(`api not ready: ${r.status} ${r.text}`);
        await new Promise((res) => setTimeout(res, 10));
      }
    } finally {
      client.close();
    }
    return api;
  }

  return {
    startApi,
    startWorker: (env, opts = {}) => start('worker', env, undefined, undefined, opts.nodeArgs),
    /** Any other Node script that prints a JSON line with `url` when it is ready (`opts` as startApi's). */
    startServer: (script, env, opts = {}) =>
      start('server', env, script, (obj) => typeof obj.url === 'string', opts.nodeArgs, {
        readLogs: opts.readLogs ?? true,
      }),
    async stopAll() {
      await Promise.all([...procs].map((p) => p.stop()));
    },
  };
}

/** Sum of `MEMORY USAGE` over the prefix's keys: this bench's own footprint, whatever else runs. */
export async function prefixMemory(redis, prefix) {
  let keys = 0;
  let bytes = 0;
  for await (const found of scanPrefix(redis, prefix)) {
    const p = redis.pipeline();
    for (const k of found) p.memory('USAGE', k, 'SAMPLES', '0');
    for (const [, v] of await p.exec()) bytes += Number(v ?? 0);
    keys += found.length;
  }
  return { keys, bytes };
}

export async function redisUsedMemory(redis) {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? NaN);
}

/** Resident set size of a process (KiB), from /proc/<pid>/status VmRSS. */
export function rssKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
}

const CLK_TCK = 100; // USER_HZ on Linux (getconf CLK_TCK)

/** CPU time (user + system, ms) a process has used so far, from /proc/<pid>/stat. */
export function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state)
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK; // utime, stime
}

/**
 * What processes cost while idle, over `ms`: CPU (ms per second, all threads) and how often the
 * main thread woke (voluntary context switches per second), per pid.
 */
export async function idleCost(pids, ms = 5_000) {
  const read = (pid) => {
    const sw = readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8');
    return { cpu: cpuMs(pid), wakeups: Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(sw)?.[1] ?? NaN) };
  };
  const before = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, read(pid)]));
  await new Promise((r) => setTimeout(r, ms));
  return Object.fromEntries(
    Object.entries(pids).map(([name, pid]) => {
      const after = read(pid);
      return [
        name,
        {
          cpuMsPerS: Math.round(((after.cpu - before[name].cpu) / ms) * 1000 * 10) / 10,
          wakeupsPerS: Math.round(((after.wakeups - before[name].wakeups) / ms) * 1000 * 10) / 10,
        },
      ];
    }),
  );
}

/** A keep-alive HTTP client for 127.0.0.1 (lighter than fetch, so less client time in the figures). */
export function createHttpClient() {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  function request(method, url, body, headers = {}) {
    const u = new URL(url);
    if (u.hostname !== '127.0.0.1') throw new Error(`benches only talk to 127.0.0.1, not ${u.hostname}`);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolveReq, reject) => {
      const t0 = performance.now();
      const req = http.request(
        {
          method,
          host: u.hostname,
          port: u.port,
          path: u.pathname + u.search,
          agent,
          headers: {
            ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
            ...headers,
          },
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const ms = performance.now() - t0;
            const text = Buffer.concat(chunks).toString('utf8');
            let json;
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolveReq({ status: res.statusCode, json, text, ms });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }
  return {
    post: (url, body, headers) => request('POST', url, body, headers),
    get: (url, headers) => request('GET', url, undefined, headers),
    close: () => agent.destroy(),
  };
}

export async function createKey(client, apiUrl, name = `bench${randomBytes(4).toString('hex')}`) {
  const r = await client.post(`${apiUrl}/admin/keys`, { name }, { authorization: `Bearer ${ADMIN_KEY}` });
  if (r.status !== 201 || !r.json?.key) throw new Error(`key creation failed: ${r.status} ${r.text}`);
  return r.json.key;
}

/**
 * Spawns a CLI the way the worker's runCli does (no shell, own process group, prompt on stdin,
 * all output collected) and resolves at 'close' with the wall time in ms.
 */
export function spawnDirect({ bin, args, stdin, cwd, env }) {
  return new Promise((resolveRun, reject) => {
    const t0 = performance.now();
    const child = spawn(bin, args, {
      cwd,
      env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      shell: false,
    });
    const out = [];
    let stderr = '';
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => (stderr = (stderr + c.toString()).slice(-2000)));
    child.on('error', reject);
    child.stdin.on('error', () => {});
    child.stdin.end(stdin, 'utf8');
    child.on('close', (code) =>
      resolveRun({ code, stdout: Buffer.concat(out).toString('utf8'), stderr, ms: performance.now() - t0 }),
    );
  });
}

/** Runs `total` calls of `fn(i)` with at most `concurrency` in flight; returns their results. */
export async function runConcurrent(total, concurrency, fn) {
  const results = new Array(total);
  let next = 0;
  async function lane() {
    while (next < total) {
      const i = next++;
      results[i] = await fn(i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, lane));
  return results;
}

/** Nearest-rank percentile of an ascending array. */
function pct(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

const r2 = (x) => Math.round(x * 100) / 100;

/** n, min, mean, p50, p95, p99, max (ms, 2 decimals) of a list of latencies. */
export function summarize(values) {
  const s = [...values].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return {
    n: s.length,
    min: r2(s[0]),
    mean: r2(mean),
    p50: r2(pct(s, 50)),
    p95: r2(pct(s, 95)),
    p99: r2(pct(s, 99)),
    max: r2(s[s.length - 1]),
  };
}

/** Percentile-wise difference a − b (NOT the distribution of per-request differences). */
export function diffPercentiles(a, b) {
  return {
    p50: r2(a.p50 - b.p50),
    p95: r2(a.p95 - b.p95),
    p99: r2(a.p99 - b.p99),
    mean: r2(a.mean - b.mean),
  };
}

export const median = (values) => summarize(values).p50;

/** A table row for a labelled `summarize()` result (`withMin`: a min column before max). */
export const statsRow = (label, s, { withMin = false } = {}) => ({
  series: label,
  n: s.n,
  p50: s.p50,
  p95: s.p95,
  p99: s.p99,
  mean: s.mean,
  ...(withMin ? { min: s.min } : {}),
  max: s.max,
});

/** `--some-key=value` → { someKey: value } (numbers coerced); other arguments are ignored. */
export function parseFlags(argv) {
  const out = {};
  for (const a of argv) {
    const m = /^--([a-z0-9-]+)=(.*)$/i.exec(a);
    if (!m) continue;
    const key = m[1].replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    out[key] = m[2] !== '' && Number.isFinite(Number(m[2])) ? Number(m[2]) : m[2];
  }
  return out;
}

export const log = (...args) => process.stderr.write(`[bench] ${args.join(' ')}\n`);

// Cleanups run by bench/run.mjs on SIGINT/SIGTERM, so an interrupted bench still stops its
// processes and deletes its keys. A bench registers one and unregisters it when done.
const cleanups = new Set();
export function onInterrupt(fn) {
  cleanups.add(fn);
  return () => cleanups.delete(fn);
}
export async function runInterruptCleanups() {
  for (const fn of [...cleanups]) {
    try {
      await fn();
    } catch (err) {
      log(`cleanup failed: ${err?.message ?? err}`);
    }
  }
}

/**
 * The standard life cycle of one bench: a unique prefix, a process group, a Redis client, an HTTP
 * client; `close()` stops every process, deletes the prefix's keys and closes the clients.
 */
export function createBenchContext(name) {
  const prefix = uniquePrefix(name, 'bench');
  const redis = newRedis();
  const group = createProcessGroup();
  const http = createHttpClient();
  const extra = [];
  let closing;
  const close = () =>
    (closing ??= (async () => {
      for (const fn of extra.reverse()) {
        try {
          await fn();
        } catch (err) {
          log(`${name}: cleanup step failed: ${err?.message ?? err}`);
        }
      }
      await group.stopAll();
      http.close();
      const removed = await deletePrefix(redis, prefix);
      await redis.quit();
      unregister();
      log(`${name}: stopped processes, removed ${removed} keys under ${prefix}:`);
    })());
  const unregister = onInterrupt(close);
  return { name, prefix, redis, group, http, atClose: (fn) => extra.push(fn), close };
}
