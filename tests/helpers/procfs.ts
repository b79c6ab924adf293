/** What Linux's /proc says about processes and about this process's sockets. */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

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

/**
 * Local ports of the TCP connections this process still holds (an open file descriptor) to
 * `remotePort`: its socket inodes from /proc/self/fd, matched in /proc/self/net/tcp and tcp6.
 */
export function ownTcpConnections(remotePort: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const port = (hexAddr: string) => parseInt(hexAddr.slice(hexAddr.lastIndexOf(':') + 1), 16);
  const ports: number[] = [];
  for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue; // no IPv6
    }
    // "sl local_address rem_address st ... inode": addresses are hex IP:PORT, st 0A is LISTEN.
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9]!) || f[3] === '0A') continue;
      if (port(f[2]!) === remotePort) ports.push(port(f[1]!));
    }
  }
  return ports;
}
