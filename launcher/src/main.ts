/**
 * `npm start`: the all-in-one mode for a single box. Makes sure a Redis answers (starting a
 * private one under DATA_DIR if none does and `redis-server` is on PATH), makes sure there is an
 * admin key, then runs the API and one worker as child processes (the same entry points as a
 * scaled deployment) and stops them in order on SIGTERM/SIGINT.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  createLogger,
  EXIT_NO_CLI,
  handleShutdownSignals,
  loadConfigOrExit,
  resolveBin,
} from '@cli-bridge/shared';
import { ensureAdminKey } from './admin-key.js';
import { redisAnswers, waitForRedis } from './redis-probe.js';

function withoutNpmBins(pathEnv: string | undefined): string {
  return (pathEnv ?? '')
    .split(delimiter)
    .filter((d) => d && !/node_modules[\\/]\.bin[\\/]?$/.test(d))
    .join(delimiter);
}

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

async function main(): Promise<void> {
  const config = loadConfigOrExit(process.env, { role: 'launcher' });
  const logger = createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT, name: 'launcher' });
  const dataDir = resolve(config.DATA_DIR);
  // `npm start` puts node_modules/.bin on PATH, where the test suite's pinned CLIs live; the
  // worker must find the user's own, logged-in `claude` / `codex` instead.
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: withoutNpmBins(process.env.PATH) };
  const children: { name: string; proc: ChildProcess }[] = [];
  let stopping = false;

  // 1. Redis
  const url = new URL(config.REDIS_URL);
  const host = url.hostname || '127.0.0.1';
  const port = Number(url.port || 6379);
  // Behind Sentinel the clients find the master themselves: nothing to check or start here.
  if (config.REDIS_SENTINELS.length === 0 && !(await redisAnswers(host, port))) {
    const local = ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host);
    const redisBin = resolveBin('redis-server', process.env.PATH);
    if (!local || !config.START_REDIS || !redisBin) {
      process.stderr.write(
        `Nothing answers at ${url.host}: start Redis there, point REDIS_URL at one, or install redis-server (apt-get install redis-server) so npm start can run a private one.\n`,
      );
      process.exit(1);
    }
    const redisDir = join(dataDir, 'redis');
    mkdirSync(redisDir, { recursive: true, mode: 0o700 });
    const proc = spawn(
      redisBin,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        redisDir,
        '--appendonly',
        'yes',
        '--appendfsync',
        'everysec',
        '--maxmemory-policy',
        'noeviction',
        '--save',
        '',
      ],
      // Its own process group: a terminal's Ctrl-C must not stop it before the API and worker.
      { stdio: ['ignore', 'ignore', 'inherit'], detached: true },
    );
    children.push({ name: 'redis', proc });
    if (!(await waitForRedis('127.0.0.1', port, 10_000))) {
      process.stderr.write(`redis-server did not start on port ${port}\n`);
      proc.kill('SIGKILL');
      process.exit(1);
    }
    logger.info({ port, dir: redisDir }, 'started a private redis-server (AOF on)');
  }

  // 2. Admin key
  if (!config.BRIDGE_ADMIN_KEY) {
    const { key, file, created } = ensureAdminKey(dataDir);
    env.BRIDGE_ADMIN_KEY = key;
    logger.info(
      { file },
      created
        ? 'generated an admin key; it is stored in this file'
        : 'using the admin key stored in this file',
    );
  }

  // 3. API and worker; stopped in order on SIGTERM/SIGINT: API and worker first, Redis last
  // (it writes its AOF on SIGTERM). A child that dies stops the rest (exit code 1).
  const exited = (proc: ChildProcess) =>
    proc.exitCode !== null || proc.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((r) => proc.once('exit', () => r()));
  const shutdown = handleShutdownSignals({
    logger,
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS + config.KILL_GRACE_MS + 10_000,
    close: async () => {
      stopping = true;
      const apps = children.filter((c) => c.name !== 'redis');
      for (const c of apps) c.proc.kill('SIGTERM');
      await Promise.all(apps.map((c) => exited(c.proc)));
      for (const c of children.filter((c) => c.name === 'redis')) {
        c.proc.kill('SIGTERM');
        await exited(c.proc);
      }
    },
    onForce: () => {
      for (const c of children) c.proc.kill('SIGKILL');
    },
  });
  const run = (name: string, script: string, childEnv: NodeJS.ProcessEnv) => {
    // Own process group (a terminal's Ctrl-C reaches the launcher alone, which then stops each
    // child once) and an IPC channel (a child stops when the launcher is gone).
    const proc = spawn(process.execPath, [join(root, script)], {
      env: childEnv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      detached: true,
    });
    children.push({ name, proc });
    proc.on('exit', (code, signal) => {
      if (stopping) return;
      if (name === 'worker' && code === EXIT_NO_CLI) {
        logger.warn(
          'no worker: no CLI was found (install claude or codex, or set CLAUDE_BIN / CODEX_BIN); the API answers 503 for generate requests',
        );
        return;
      }
      logger.error({ child: name, code, signal }, 'child exited; stopping');
      shutdown(`${name} exited`, 1);
    });
  };
  // The admin key goes to the API alone, generated or set: the worker never uses it, and a CLI
  // runs as the same user as its worker, so it could read the worker's /proc/<pid>/environ.
  const { BRIDGE_ADMIN_KEY: _adminKey, ...workerEnv } = env;
  run('api', 'api/dist/main.js', env);
  run('worker', 'worker/dist/main.js', workerEnv);
}

main().catch((err: unknown) => {
  process.stderr.write(`cli-bridge failed to start: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
