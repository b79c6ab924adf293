/**
 * Runs one CLI process: no shell, its own process group, the prompt on stdin, output capped,
 * a deadline, and cancellation. Whatever ends the run, the whole process group is killed (TERM,
 * then KILL after a grace period) so nothing the CLI started outlives the job; and if this
 * process dies first, its group reaper kills the group (see group-reaper.ts).
 */
import { spawn } from 'node:child_process';
import { groupReaper } from './group-reaper.js';

export interface RunCliOptions {
  bin: string;
  args: string[];
  stdin: string;
  cwd: string;
  env: Record<string, string>;
  /** Wall-clock limit (ms); the group is killed when it passes. */
  timeoutMs: number;
  /** stdout larger than this (bytes) kills the group and fails the run. */
  maxBufferBytes: number;
  /** Gap between TERM and KILL (ms). */
  killGraceMs: number;
  /** Aborting kills the group; `signal.reason` is reported back as `abortReason`. */
  signal?: AbortSignal;
  /** Called with each complete stdout line as it arrives (streaming). */
  onStdoutLine?: (line: string) => void;
  /** Called once the process exists, with its pid (= its process group id). */
  onSpawn?: (pid: number) => void;
}

export type RunEnd = 'exited' | 'timeout' | 'oversize' | 'aborted' | 'spawn_failed';

export interface CliRun {
  end: RunEnd;
  stdout: string;
  /** The last `STDERR_KEEP_BYTES` of stderr. */
  stderr: string;
  exitCode: number | null;
  exitSignal: NodeJS.Signals | null;
  durationMs: number;
  /** Set when `end` is `aborted`. */
  abortReason?: unknown;
  /** Set when `end` is `spawn_failed` (e.g. ENOENT: the binary is missing). */
  spawnError?: Error;
  pid?: number;
}

const STDERR_KEEP_BYTES = 64 * 1024;

/** Sends `sig` to every process of the group led by `pid`; a group already gone is fine. */
export function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // ESRCH: nothing left in the group.
  }
}

export function runCli(opts: RunCliOptions): Promise<CliRun> {
  const started = performance.now();
  return new Promise<CliRun>((resolve) => {
    let end: RunEnd = 'exited';
    let abortReason: unknown;
    let stdoutBytes = 0;
    const stdoutChunks: Buffer[] = [];
    let stderr = Buffer.alloc(0);
    let lineRest = '';
    let killTimer: NodeJS.Timeout | undefined;
    let settled = false;

    const child = spawn(opts.bin, opts.args, {
      cwd: opts.cwd,
      env: opts.env,
      detached: true, // own process group, so the group can be killed as one
      stdio: ['pipe', 'pipe', 'pipe'],
      shell: false,
      windowsHide: true,
    });
    const pid = child.pid;
    if (pid !== undefined) {
      groupReaper().watch(pid);
      opts.onSpawn?.(pid);
    }

    const finish = (run: Omit<CliRun, 'durationMs' | 'pid'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(killTimer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (pid !== undefined) groupReaper().release(pid);
      resolve({
        ...run,
        durationMs: Math.round(performance.now() - started),
        pid,
      });
    };

    const stop = (why: RunEnd) => {
      if (end !== 'exited' || pid === undefined) return; // first reason wins
      end = why;
      killGroup(pid, 'SIGTERM');
      killTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), opts.killGraceMs);
    };

    const timer = setTimeout(() => stop('timeout'), opts.timeoutMs);
    const onAbort = () => {
      abortReason = opts.signal?.reason;
      stop('aborted');
    };
    if (opts.signal?.aborted) queueMicrotask(onAbort);
    else opts.signal?.addEventListener('abort', onAbort, { once: true });

    child.on('error', (err) => {
      finish({
        end: 'spawn_failed',
        stdout: '',
        stderr: '',
        exitCode: null,
        exitSignal: null,
        spawnError: err,
      });
    });

    child.stdout.on('data', (chunk: Buffer) => {
      if (end === 'oversize') return;
      stdoutBytes += chunk.length;
      if (stdoutBytes > opts.maxBufferBytes) {
        stop('oversize');
        return;
      }
      stdoutChunks.push(chunk);
      if (opts.onStdoutLine) {
        const parts = (lineRest + chunk.toString('utf8')).split('\n');
        lineRest = parts.pop() ?? '';
        for (const line of parts) if (line.trim()) opts.onStdoutLine(line);
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = Buffer.concat([stderr, chunk]);
      if (stderr.length > STDERR_KEEP_BYTES) stderr = stderr.subarray(-STDERR_KEEP_BYTES);
    });

    // The CLI may exit before reading all of stdin (e.g. a bad flag): EPIPE is not our error.
    child.stdin.on('error', () => {});
    child.stdin.end(opts.stdin, 'utf8');

    // 'exit' fires when the leader dies even if a grandchild still holds the pipes open;
    // kill what is left of the group so that 'close' can follow.
    child.on('exit', () => {
      if (pid !== undefined) killGroup(pid, 'SIGKILL');
    });
    child.on('close', (code, sig) => {
      if (opts.onStdoutLine && lineRest.trim() && end === 'exited') opts.onStdoutLine(lineRest);
      finish({
        end,
        stdout: Buffer.concat(stdoutChunks).toString('utf8'),
        stderr: stderr.toString('utf8'),
        exitCode: code,
        exitSignal: sig,
        abortReason,
      });
    });
  });
}
