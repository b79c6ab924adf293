/**
 * A redis-server (or redis-sentinel) of the test's own, on a free loopback port, that the test may
 * stop and start again (same port, same directory: with `--appendonly yes` its data survives).
 * Stop it before the harness's cleanup: the leak check fails a file that leaves a child running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from './env.js';
import { waitFor } from './records.js';

export interface PrivateRedis {
  port: number;
  url: string;
  /** Stops it (SIGKILL by default: an outage, not a shutdown) and waits for its exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port with the same arguments; resolves once it answers PING. */
  start(): Promise<void>;
}

/** Whether something answers PING on 127.0.0.1:`port` within a second. */
export function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1_000, () => done(false));
    s.on('error', () => done(false));
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/** `args` follow `--port <port> --bind 127.0.0.1` (for a sentinel: a config file first, via `argsFirst`). */
export async function startPrivateRedis(
  opts: { bin?: string; args?: string[]; argsFirst?: string[]; port?: number } = {},
): Promise<PrivateRedis> {
  const port = opts.port ?? (await freePort());
  let proc: ChildProcess | undefined;
  const start = async () => {
    const p = spawn(
      opts.bin ?? 'redis-server',
      [...(opts.argsFirst ?? []), '--port', String(port), '--bind', '127.0.0.1', ...(opts.args ?? [])],
      { stdio: 'ignore' },
    );
    proc = p;
    await waitFor(
      async () => {
        if (p.exitCode !== null) throw new Error(`${opts.bin ?? 'redis-server'} exited (${p.exitCode})`);
        return answersPing(port);
      },
      10_000,
      `redis on ${port}`,
    );
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop(signal = 'SIGKILL') {
      const p = proc;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill(signal);
      await exited;
    },
    start,
  };
}
