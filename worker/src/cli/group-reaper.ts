/**
 * Makes every CLI process group die with its worker, however the worker dies (SIGKILL, OOM, a
 * crash): without this, a CLI left behind by a worker killed with SIGKILL ran on, past its own
 * timeout, until the next worker on the box swept it up.
 *
 * One small watchdog per worker process: `/bin/sh` reading the worker's pipe, in its own process
 * group (so a signal meant for the worker's group does not take it too). The worker writes
 * `+<pgid>` when a CLI starts and `-<pgid>` when its run is over. When the worker dies, however it
 * dies, the kernel closes its end of the pipe; the watchdog reads EOF and kills every group still
 * listed with SIGKILL (the CLI and whatever it started in its group), then exits. A graceful
 * close ends the pipe the same way, with no group left to kill.
 *
 * Cost on the request path: two pipe writes per run (under 1 µs; the median spawn-to-exit of
 * /bin/true moved by less than the noise, ~1.6 ms either way); the watchdog itself starts once per
 * worker (~1 ms). The group is dead ~10 ms after the worker's SIGKILL. Alternatives weighed:
 * `setpriv --pdeathsig KILL <cli>` (util-linux) adds an exec to every run (~1.9 ms more
 * spawn-to-exit for /bin/true) and kills only the CLI itself, never the children in its group;
 * the CLI's stdin cannot tell either, as the worker closes it once the prompt is written. The
 * pipe's write end is close-on-exec (libuv opens every pipe that way), so no CLI holds it open.
 * Without /bin/sh, runs go on without a watchdog; the orphan sweep of the next worker remains.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

const SHELL = '/bin/sh';

// `live` holds the registered groups as " 12 34 "; no subprocess per line (dash built-ins only).
const WATCHDOG = `
set -f
live=' '
while IFS= read -r line; do
  case $line in
    +[0-9]*) live="$live\${line#+} " ;;
    -[0-9]*) g=\${line#-}
      case $live in *" $g "*) live="\${live%% $g *} \${live#* $g }" ;; esac ;;
  esac
done
for g in $live; do kill -s KILL -- "-$g" 2>/dev/null; done
`;

export interface GroupReaper {
  /** The group led by `pgid` dies if this process dies before `release(pgid)`. */
  watch(pgid: number): void;
  release(pgid: number): void;
  /** Ends the watchdog (it kills the groups still watched). */
  close(): void;
  /** The watchdog's pid, if it runs. */
  readonly pid: number | undefined;
}

/** A reaper whose watchdog starts on first use, and again if it was killed. */
export function createGroupReaper(shell = SHELL): GroupReaper {
  let proc: ChildProcess | undefined;
  let closed = false;
  const watched = new Set<number>();
  const available = existsSync(shell);

  const ensure = (): ChildProcess | undefined => {
    if (!available) return undefined;
    if (proc && proc.exitCode === null && proc.signalCode === null && proc.stdin?.writable) return proc;
    const p = spawn(shell, ['-c', WATCHDOG], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
      env: { PATH: '/usr/bin:/bin' },
    });
    p.on('error', () => {}); // spawn failure: runs go on without it (the orphan sweep remains)
    p.stdin!.on('error', () => {}); // EPIPE if it was killed: the 'exit' below replaces it
    // Killed while groups are watched (a write may have been lost): a new one learns them all;
    // at once, unless it died young (then at the next watch(), so a broken shell never spins).
    const startedAt = Date.now();
    p.on('exit', () => {
      if (proc !== p) return;
      proc = undefined;
      if (watched.size > 0 && !closed && Date.now() - startedAt > 1_000) ensure();
    });
    // It must not keep the worker alive, nor be waited for.
    p.unref();
    (p.stdin as unknown as { unref?: () => void }).unref?.();
    proc = p;
    // A restarted watchdog learns the groups still running.
    for (const g of watched) p.stdin!.write(`+${g}\n`);
    return p;
  };

  return {
    watch(pgid) {
      closed = false;
      watched.add(pgid);
      const p = proc;
      if (p && p.exitCode === null && p.signalCode === null && p.stdin?.writable) p.stdin.write(`+${pgid}\n`);
      else ensure(); // writes every watched group, this one included
    },
    release(pgid) {
      if (!watched.delete(pgid)) return;
      if (proc?.stdin?.writable) proc.stdin.write(`-${pgid}\n`);
    },
    close() {
      closed = true;
      proc?.stdin?.end();
      proc = undefined;
    },
    get pid() {
      return proc?.pid;
    },
  };
}

let shared: GroupReaper | undefined;

/** The reaper of this process, shared by all its runs. */
export function groupReaper(): GroupReaper {
  return (shared ??= createGroupReaper());
}
