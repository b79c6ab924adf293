/** Reading processes from /proc (Linux), for tests about process lifetimes. */
import { readdirSync, readFileSync } from 'node:fs';

/** Pids of the live children of `ppid`, with their command lines (argv joined by spaces). */
export function childrenOf(ppid: number): { pid: number; cmdline: string }[] {
  const out: { pid: number; cmdline: string }[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // Fields after the command name, which may contain spaces: state, ppid, pgrp, ...
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== ppid || fields[0] === 'Z') continue;
      const cmdline = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').join(' ').trim();
      out.push({ pid: Number(e), cmdline });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The group reaper's watchdog of a worker process (see worker/src/cli/group-reaper.ts). */
export function watchdogOf(workerPid: number): number | undefined {
  return childrenOf(workerPid).find((c) => c.cmdline.startsWith('/bin/sh -c'))?.pid;
}
