/** Resident memory of processes, read from /proc (Linux), for the warm pool's memory budget. */
import { readdirSync, readFileSync } from 'node:fs';

/**
 * VmRSS of one process from /proc (Linux); undefined when it is gone or /proc is missing.
 * A file read instead of a library (pidusage): one field, no process spawned, no dependency.
 */
export function procRssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * VmRSS of a process and all its descendants (a CLI may be a launcher plus the program it starts:
 * the npm `codex` is a Node script running the native binary as its child); undefined when the
 * process is gone. Children come from `/proc/<pid>/task/<tid>/children` (a few small reads per
 * process; scanning every /proc entry for the process group cost ~12 ms a call on a loaded box).
 */
export function procTreeRssBytes(pid: number): number | undefined {
  const own = procRssBytes(pid);
  if (own === undefined) return undefined;
  let total = own;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return total;
  }
  for (const tid of tasks) {
    let children: string;
    try {
      children = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8');
    } catch {
      continue; // thread gone, or a kernel without the children file: the process alone
    }
    for (const c of children.split(' ')) if (c.trim()) total += procTreeRssBytes(Number(c)) ?? 0;
  }
  return total;
}
