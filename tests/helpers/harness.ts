/**
 * One harness per test file: a unique Redis prefix, bridge processes (spawned as real OS
 * processes, or in-process for speed), and a cleanup that stops everything, deletes the prefix's
 * keys and fails the file if anything was left running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { startApiServer, type ApiServer } from '@cli-bridge/api';
import { createLogger, redisKeys, type Config, type Provider } from '@cli-bridge/shared';
import { startWorker, type WorkerHandle } from '@cli-bridge/worker';
import { Redis } from 'ioredis';
import { ADMIN_KEY, REDIS_URL, ROOT, testConfig, testEnv, uniquePrefix } from './env.js';
import { checkForLeaks } from './leak-check.js';
import { deletePrefix } from './prefix.js';

export interface SpawnedProcess {
  proc: ChildProcess;
  /** Parsed JSON log lines seen so far. */
  logs: Record<string, unknown>[];
  /** SIGTERM (or `signal`), then wait for exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

const silent = () => createLogger({ level: 'silent', name: 'test' });

export function createHarness(
  name: string,
  overrides: Record<string, string> = {},
  /** `hashTag`: the prefix in braces, a Redis Cluster hash tag (`{test-name-1234abcd}`). */
  opts: { hashTag?: boolean } = {},
) {
  const prefix = opts.hashTag ? `{${uniquePrefix(name)}}` : uniquePrefix(name);
  const env = testEnv(prefix, overrides);
  const config: Config = testConfig(prefix, overrides);
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 3 });
  const processes = new Set<SpawnedProcess>();
  const closers: (() => Promise<void>)[] = [];

  function spawnNode(script: string, extraEnv: Record<string, string>, readyMsg: string) {
    const proc = spawn(process.execPath, [join(ROOT, script)], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        ...env,
        LOG_LEVEL: 'info',
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const logs: Record<string, unknown>[] = [];
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
    const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
      createInterface({ input: proc.stdout! }).on('line', (line) => {
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry.msg === readyMsg) resolve(entry);
        } catch {
          // not a log line
        }
      });
      void exited.then((code) =>
        reject(new Error(`${script} exited (${code}) before it was ready: ${stderr}`)),
      );
    });
    const sp: SpawnedProcess = {
      proc,
      logs,
      exited,
      async stop(signal = 'SIGTERM') {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
        const code = await exited;
        processes.delete(sp);
        return code;
      },
    };
    processes.add(sp);
    return { sp, ready };
  }

  return {
    prefix,
    env,
    config,
    redis,
    keys: redisKeys(prefix),

    /** The API as its own OS process (node api/dist/main.js). */
    async spawnApi(extraEnv: Record<string, string> = {}) {
      const { sp, ready } = spawnNode('api/dist/main.js', extraEnv, 'api listening');
      const entry = await ready;
      return { ...sp, url: String(entry.url) };
    },

    /** A worker as its own OS process (node worker/dist/main.js). */
    async spawnWorker(extraEnv: Record<string, string> = {}) {
      const { sp, ready } = spawnNode('worker/dist/main.js', extraEnv, 'worker started');
      const entry = await ready;
      return { ...sp, workerId: String(entry.workerId) };
    },

    /** The API inside the test process. */
    async startApi(extra: Record<string, string> = {}): Promise<ApiServer> {
      const cfg = Object.keys(extra).length ? testConfig(prefix, { ...overrides, ...extra }) : config;
      const server = await startApiServer(cfg, silent());
      closers.push(() => server.close({ graceMs: 1_000 }));
      return server;
    },

    /** A worker inside the test process (wired as `node worker/dist/main.js` wires one). */
    async startWorker(
      providers: Provider[] = ['claude', 'codex'],
      extra: Record<string, string> = {},
    ): Promise<WorkerHandle> {
      const cfg = Object.keys(extra).length ? testConfig(prefix, { ...overrides, ...extra }) : config;
      const worker = await startWorker({
        config: cfg,
        logger: silent(),
        providers,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, ...extra },
        hostname: 'test-host',
        probeVersions: false,
      });
      closers.push(() => worker.close({ drainMs: 2_000 }));
      return worker;
    },

    /** The immutable id of the live key named `name`: its usage, leases and logs are named after it. */
    async keyId(name: string): Promise<string> {
      const id = await redis.hget(redisKeys(prefix).apiKeyByName, name);
      if (!id) throw new Error(`no live key named ${name}`);
      return id;
    },

    /** Creates a user key through the admin API; returns the raw key. */
    async createKey(
      apiUrl: string,
      keyName = `k${Math.random().toString(36).slice(2, 10)}`,
      body: Record<string, unknown> = {},
    ) {
      const res = await fetch(`${apiUrl}/admin/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name: keyName, ...body }),
      });
      if (res.status !== 201) throw new Error(`key creation failed: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { key: string }).key;
    },

    /**
     * Stops everything this harness started; deletes the prefix's keys; fails (throws) on
     * leftovers: see leak-check.ts.
     */
    async cleanup() {
      try {
        const leftovers = [...processes];
        await Promise.all(leftovers.map((p) => p.stop()));
        for (const c of closers.splice(0).reverse()) await c();
        await deletePrefix(redis, prefix);
        // A worker's heartbeat timer writes every WORKER_HEARTBEAT_MS: watch a little longer.
        const recheckMs = Math.min(config.WORKER_HEARTBEAT_MS, 2_000) + 100;
        await checkForLeaks({ redis, prefix, recheckMs });
      } finally {
        await redis.quit();
      }
    },
  };
}

export type Harness = ReturnType<typeof createHarness>;

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json: json as Record<string, any>, text };
}
