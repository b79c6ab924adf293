/**
 * Clean-up after a worker that died without its shutdown (SIGKILL, OOM, power): its CLIs run on
 * in their own process groups, with no deadline, and its scratch directories stay behind. Each
 * run records its worker's pid and its process group in its scratch directory (`run.json`); a
 * worker starting up on the same box kills the groups of dead workers and removes their
 * directories.
 *
 * A process is killed only if its cwd lies inside that run's directory, so a process group id
 * reused by an unrelated program is never touched. Linux only (/proc); elsewhere the directories
 * are still removed.
 */
import { readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@cli-bridge/shared';

export const SCRATCH_PREFIX = 'cli-bridge-';
const RUN_FILE = 'run.json';

interface RunRecord {
  workerPid: number;
  /** The CLI's process group (its pid: it leads its own group); absent while nothing runs there. */
  pgid?: number;
}

/**
 * Notes which worker runs which process group in this scratch directory; without `pgid`, that
 * the directory is this worker's though nothing runs there yet (a spare made ahead of a job).
 */
export async function recordRun(privateDir: string, pgid?: number): Promise<void> {
  const rec: RunRecord = { workerPid: process.pid, pgid };
  // Asynchronous: on a disk-backed /tmp one small file write takes ~0.3 ms (BENCHMARKS.md), and
  // a spawned CLI need not wait for its record.
  await writeFile(join(privateDir, RUN_FILE), JSON.stringify(rec), { mode: 0o600 });
}

/** A zombie (dead, not yet reaped by its parent) counts as dead. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true; // no /proc (not Linux): trust kill(0)
  }
}

/** Pids of processes in group `pgid` whose cwd is inside `dir` (empty off Linux). */
function groupMembersIn(pgid: number, dir: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // Field 5 (pgrp) follows the command name, which may contain spaces: count after ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== pgid) continue;
      const cwd = readlinkSync(`/proc/${e}/cwd`);
      if (cwd === dir || cwd.startsWith(`${dir}/`)) out.push(Number(e));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out;
}

/**
 * Kills the CLIs of dead workers and removes their scratch directories under `tmpRoot`.
 * Directories of live workers (this one included) are left alone. Returns what it did.
 */
export function sweepOrphans(tmpRoot: string, logger: Logger): { killed: number; removed: number } {
  let killed = 0;
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(tmpRoot).filter((n) => n.startsWith(SCRATCH_PREFIX));
  } catch {
    return { killed, removed };
  }
  for (const name of names) {
    const dir = join(tmpRoot, name);
    let rec: RunRecord | undefined;
    try {
      rec = JSON.parse(readFileSync(join(dir, RUN_FILE), 'utf8')) as RunRecord;
    } catch {
      continue; // not started yet, or not ours: leave it
    }
    if (!Number.isInteger(rec.workerPid) || alive(rec.workerPid)) continue;
    const pgid = rec.pgid;
    for (const pid of Number.isInteger(pgid) ? groupMembersIn(pgid!, dir) : []) {
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
    removed++;
  }
  if (killed || removed) logger.warn({ killed, removed }, 'cleaned up after a worker that died');
  return { killed, removed };
}
