/** What Linux's /proc says about processes. */
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  /** The executable's name as the kernel keeps it (at most 15 characters). */
  comm: string;
  /** One letter: R running, S/D sleeping, T stopped, Z zombie (exited, not reaped yet), X dead. */
  state: string;
  ppid: number;
  pgid: number;
}

/** Fields of /proc/<pid>/stat, or undefined when there is no such process. */
export function procStat(pid: number | 'self'): ProcStat | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so cut at the last ')'.
  const close = stat.lastIndexOf(')');
  const [state = '', ppid, pgid] = stat.slice(close + 2).split(' ');
  return {
    pid: Number(stat.slice(0, stat.indexOf(' '))),
    comm: stat.slice(stat.indexOf('(') + 1, close),
    state,
    ppid: Number(ppid),
    pgid: Number(pgid),
  };
}

/** Whether a process has exited: gone, or a zombie waiting to be reaped (which can take a while). */
export function hasExited(s: ProcStat | undefined): boolean {
  return s === undefined || s.state === 'Z' || s.state === 'X';
}

/** The processes whose parent is `ppid` and that have not exited. */
export function liveChildren(ppid: number = process.pid): ProcStat[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => procStat(Number(d)))
    .filter((s): s is ProcStat => s?.ppid === ppid && !hasExited(s));
}

/** A process's command line, for messages ('' once it is gone). */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** A process's environment as it started, or undefined when it cannot be read (gone, not ours). */
export function procEnviron(pid: number): Record<string, string> | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
    return Object.fromEntries(
      raw
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
  } catch {
    return undefined;
  }
}
