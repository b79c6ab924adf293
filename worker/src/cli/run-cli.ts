/**
 * Runs one CLI process: no shell, its own process group, the prompt on stdin, output capped,
 * a deadline, and cancellation. Whatever ends the run, the whole process group is killed (TERM,
 * then KILL after a grace period) so nothing the CLI started outlives the job; and if this
 * process dies first, its group reaper kills the group (see group-reaper.ts).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
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

/**
 * Whether `pid` has died and waits to be reaped: Node learns of a child's death only when it
 * handles SIGCHLD, which a check made meanwhile (a warm process about to be handed a job) would
 * miss. Linux /proc; elsewhere (no /proc) false, and Node's own view decides.
 */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state === 'Z' || state === 'X';
  } catch {
    return false;
  }
}

/** Sends `sig` to every process of the group led by `pid`; a group already gone is fine. */
export function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    // ESRCH: nothing left in the group.
  }
}

/** What fixes a CLI process when it starts: everything but its prompt and its deadline. */
export type StartCliOptions = Pick<RunCliOptions, 'bin' | 'args' | 'cwd' | 'env' | 'onSpawn'>;

/** What a run adds to a started process: the prompt, the limits, cancellation, streaming. */
export type CliRunOptions = Omit<RunCliOptions, keyof StartCliOptions>;

/**
 * A CLI process started but not yet given its prompt: it waits on stdin (the warm pool keeps
 * such processes; a cold run starts one and runs it at once). `run` may be called once.
 */
export interface StartedCli {
  readonly pid: number | undefined;
  /** False once the process has exited (or could not be spawned). */
  alive(): boolean;
  /** Called once when the process exits before or without `run` (a warm process that died). */
  onExit(cb: () => void): void;
  run(opts: CliRunOptions): Promise<CliRun>;
  /** Kills the group at once (SIGKILL) and resolves when the process is gone. Idempotent. */
  kill(): Promise<void>;
}

/**
 * Spawns a CLI process: no shell, its own process group (watched by the group reaper), all
 * output collected from the first byte. Nothing is written to its stdin until `run`.
 */
export function startCli(opts: StartCliOptions): StartedCli {
  let stdoutBytes = 0;
  const stdoutChunks: Buffer[] = [];
  let stderr = Buffer.alloc(0);
  let exited = false;
  let spawnError: Error | undefined;
  let onExitEarly: (() => void) | undefined;
  let running = false;
  let closed: { code: number | null; sig: NodeJS.Signals | null } | undefined;
  const closeWaiters: (() => void)[] = [];
  // Set by `run`: the live handlers of the current run.
  let onStdout: ((chunk: Buffer) => void) | undefined;
  let onClose: (() => void) | undefined;

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

  child.on('error', (err) => {
    spawnError = err;
    exited = true;
    if (pid !== undefined) groupReaper().release(pid);
    if (!running) onExitEarly?.();
    closed ??= { code: null, sig: null };
    for (const w of closeWaiters.splice(0)) w();
    onClose?.();
  });
  child.stdout.on('data', (chunk: Buffer) => {
    if (onStdout) onStdout(chunk);
    else {
      stdoutBytes += chunk.length;
      stdoutChunks.push(chunk);
    }
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = Buffer.concat([stderr, chunk]);
    if (stderr.length > STDERR_KEEP_BYTES) stderr = stderr.subarray(-STDERR_KEEP_BYTES);
  });
  // The CLI may exit before reading all of stdin (e.g. a bad flag): EPIPE is not our error.
  child.stdin.on('error', () => {});
  // 'exit' fires when the leader dies even if a grandchild still holds the pipes open;
  // kill what is left of the group so that 'close' can follow.
  child.on('exit', () => {
    exited = true;
    if (pid !== undefined) killGroup(pid, 'SIGKILL');
    if (!running) onExitEarly?.();
  });
  child.on('close', (code, sig) => {
    if (closed) return;
    closed = { code, sig };
    if (pid !== undefined) groupReaper().release(pid);
    for (const w of closeWaiters.splice(0)) w();
    onClose?.();
  });

  const gone = () => new Promise<void>((r) => (closed ? r() : closeWaiters.push(r)));

  function run(ro: CliRunOptions): Promise<CliRun> {
    if (running) throw new Error('startCli: run() called twice');
    running = true;
    const started = performance.now();
    return new Promise<CliRun>((resolve) => {
      let end: RunEnd = 'exited';
      let abortReason: unknown;
      let lineRest = '';
      let killTimer: NodeJS.Timeout | undefined;
      let settled = false;

      const finish = (r: Omit<CliRun, 'durationMs' | 'pid'>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(killTimer);
        ro.signal?.removeEventListener('abort', onAbort);
        resolve({ ...r, durationMs: Math.round(performance.now() - started), pid });
      };
      const stop = (why: RunEnd) => {
        if (end !== 'exited' || pid === undefined) return; // first reason wins
        end = why;
        killGroup(pid, 'SIGTERM');
        killTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), ro.killGraceMs);
      };
      const lines = (chunk: Buffer) => {
        if (!ro.onStdoutLine) return;
        const parts = (lineRest + chunk.toString('utf8')).split('\n');
        lineRest = parts.pop() ?? '';
        for (const line of parts) if (line.trim()) ro.onStdoutLine(line);
      };
      onStdout = (chunk) => {
        if (end === 'oversize') return;
        stdoutBytes += chunk.length;
        if (stdoutBytes > ro.maxBufferBytes) {
          stop('oversize');
          return;
        }
        stdoutChunks.push(chunk);
        lines(chunk);
      };
      onClose = () => {
        if (spawnError) {
          finish({
            end: 'spawn_failed',
            stdout: '',
            stderr: '',
            exitCode: null,
            exitSignal: null,
            spawnError,
          });
          return;
        }
        if (ro.onStdoutLine && lineRest.trim() && end === 'exited') ro.onStdoutLine(lineRest);
        finish({
          end,
          stdout: Buffer.concat(stdoutChunks).toString('utf8'),
          stderr: stderr.toString('utf8'),
          exitCode: closed?.code ?? null,
          exitSignal: closed?.sig ?? null,
          abortReason,
        });
      };

      const timer = setTimeout(() => stop('timeout'), ro.timeoutMs);
      const onAbort = () => {
        abortReason = ro.signal?.reason;
        stop('aborted');
      };
      if (ro.signal?.aborted) queueMicrotask(onAbort);
      else ro.signal?.addEventListener('abort', onAbort, { once: true });

      // Output that came before the prompt (a warm process's start-up, if any) counts too.
      if (stdoutBytes > ro.maxBufferBytes) stop('oversize');
      for (const c of stdoutChunks) lines(c);

      if (closed) {
        onClose();
        return;
      }
      child.stdin.end(ro.stdin, 'utf8');
    });
  }

  return {
    pid,
    alive: () =>
      !exited &&
      !spawnError &&
      child.exitCode === null &&
      child.signalCode === null &&
      pid !== undefined &&
      !isZombie(pid),
    onExit(cb) {
      onExitEarly = cb;
    },
    run,
    async kill() {
      if (pid !== undefined && !closed) killGroup(pid, 'SIGKILL');
      await gone();
    },
  };
}

/** Starts a CLI and runs it at once (a cold run). */
export function runCli(opts: RunCliOptions): Promise<CliRun> {
  const { bin, args, cwd, env, onSpawn, ...rest } = opts;
  return startCli({ bin, args, cwd, env, onSpawn }).run(rest);
}
