/**
 * The check behind the harness's promise to fail a file that leaves something running. Once a
 * harness has closed what it started and deleted its prefix's keys, `checkForLeaks` throws a
 * LeakError naming each of:
 *  - a child process of this test process still alive (a zombie has exited), after a short wait
 *    for exits already under way. A child whose environment names another REDIS_PREFIX is a
 *    bridge process of another harness of the file, still open: its own cleanup checks it. The
 *    worker's group reaper is no leftover either: one watchdog per process by design, shared by
 *    every in-process worker of every harness, it ends with the process (the CLI groups it
 *    watches are children of this process, and checked);
 *  - a key under the prefix again after `recheckMs`: something still writes (a heartbeat timer,
 *    a worker loop). This fixed wait is the one sleep; everything else polls a condition;
 *  - a Redis connection still open whose CLIENT LIST name carries the prefix, from whichever
 *    process: the bridge names its clients `cli-bridge:<prefix>:<name>:<role>`, BullMQ its own
 *    `<prefix>:<queue>…`. Other test files share the server, hence the prefix, not the address.
 */
import { groupReaper } from '@cli-bridge/worker';
import type { Redis } from 'ioredis';
import { deletePrefix, scanPrefix } from './prefix.js';
import { cmdline, liveChildren, procEnviron } from './procfs.js';

export class LeakError extends Error {
  override name = 'LeakError';
}

export interface LeakCheckOptions {
  /** A client of the Redis the bridge components used; the caller closes it afterwards. */
  redis: Redis;
  /** The prefix whose keys were just deleted. */
  prefix: string;
  /** How long to watch for keys re-appearing under the prefix (ms). */
  recheckMs: number;
  /** Bound on waiting for processes and connections already on their way out (ms). */
  settleMs?: number;
}

export async function checkForLeaks(opts: LeakCheckOptions): Promise<void> {
  const { redis, prefix } = opts;
  const settleMs = opts.settleMs ?? 2_000;
  const [children, keys, connections] = await Promise.all([
    settle(() => childrenOf(prefix), settleMs),
    reappearingKeys(redis, prefix, opts.recheckMs),
    settle(() => connectionsOf(redis, prefix), settleMs),
  ]);
  const problems = [
    ...children.map((c) => `child process still running: ${c.pid} ${c.cmd}`),
    ...(keys.length
      ? [
          `${keys.length} key(s) re-appeared after the prefix was deleted (something still writes): ` +
            keys.slice(0, 10).join(', '),
        ]
      : []),
    ...connections.map((c) => `Redis connection still open: ${c.name} (${c.addr})`),
  ];
  if (problems.length) {
    throw new LeakError(`left running by the harness of ${prefix}:\n  - ${problems.join('\n  - ')}`);
  }
}

/** This process's live children, but for the bridge processes of other prefixes and the reaper. */
function childrenOf(prefix: string): { pid: number; cmd: string }[] {
  const reaper = groupReaper().pid;
  const othersOf = (pid: number) => {
    if (pid === reaper) return true;
    const p = procEnviron(pid)?.REDIS_PREFIX;
    // A REDIS_PREFIX this process has itself was inherited, not given by a harness.
    return p !== undefined && p !== prefix && p !== process.env.REDIS_PREFIX;
  };
  return liveChildren()
    .filter((s) => !othersOf(s.pid))
    .map((s) => ({ pid: s.pid, cmd: cmdline(s.pid) || s.comm }));
}

/** Waits `ms`, then lists (and deletes again) the keys under `prefix:`. */
async function reappearingKeys(redis: Redis, prefix: string, ms: number): Promise<string[]> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  const keys: string[] = [];
  for await (const batch of scanPrefix(redis, prefix)) keys.push(...batch);
  if (keys.length) await deletePrefix(redis, prefix); // leave nothing behind, failing or not
  return keys.sort();
}

/** The server's connections whose name has `prefix` as one of its `:`-separated parts. */
async function connectionsOf(redis: Redis, prefix: string): Promise<{ name: string; addr: string }[]> {
  const text = (await redis.client('LIST')) as string;
  return text
    .split('\n')
    .map((line) => ({
      name: /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '',
      addr: /(?:^| )addr=(\S+)/.exec(line)?.[1] ?? '',
    }))
    .filter((c) => c.name.split(':').includes(prefix));
}

/** Polls `list` until it is empty or `ms` pass; returns its last answer. */
async function settle<T>(list: () => T[] | Promise<T[]>, ms: number): Promise<T[]> {
  const until = Date.now() + ms;
  for (;;) {
    const found = await list();
    if (!found.length || Date.now() >= until) return found;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Cleans up every harness of a file, in order, even when one of them fails its leak check (a
 * loop that stopped at the first failure would leave the later harnesses' processes running);
 * then throws the first failure, or all of them.
 */
export async function cleanupAll(harnesses: readonly { cleanup(): Promise<void> }[]): Promise<void> {
  const failures: unknown[] = [];
  for (const h of harnesses) {
    try {
      await h.cleanup();
    } catch (err) {
      failures.push(err);
    }
  }
  if (failures.length === 1) throw failures[0];
  if (failures.length) {
    const messages = failures.map((e) => (e instanceof Error ? e.message : String(e)));
    throw new AggregateError(
      failures,
      `${failures.length} harnesses failed their cleanup:\n${messages.join('\n')}`,
    );
  }
}
