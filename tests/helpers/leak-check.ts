/**
 * The check behind the harness's promise to fail a file that leaves something running. Once a
 * harness has closed what it started and deleted its prefix's keys, `checkForLeaks` throws a
 * LeakError naming each of:
 *  - a child process of this test process still alive (a zombie has exited), after a short wait
 *    for exits already under way;
 *  - a key under the prefix again after `recheckMs`: something still writes (a heartbeat timer,
 *    a worker loop). This fixed wait is the one sleep; everything else polls a condition;
 *  - a Redis connection still open: any whose CLIENT LIST name carries the prefix (BullMQ names
 *    its blocking connections `<prefix>:<queue>…`, in whichever process), and any connection to
 *    that Redis this process still holds. The bridge's own names (`cli-bridge:<name>:<role>`)
 *    carry no prefix and other test files share the server, so those are found from this
 *    process's sockets (/proc) and only named from CLIENT LIST.
 * A file may hold several harnesses and close them one after another; while another one is
 * open, its processes and connections are legitimately alive. A harness's own client is the one
 * Redis connection in a test process without a name (the bridge names all of its clients), so
 * while this process holds another unnamed connection the process-wide checks (children, this
 * process's connections) are left to the cleanup of the last harness. The per-prefix checks run
 * at every cleanup.
 */
import type { Redis } from 'ioredis';
import { deletePrefix, scanPrefix } from './prefix.js';
import { cmdline, liveChildren, ownTcpConnections } from './procfs.js';

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
  await redis.ping(); // connected, so its own socket is known and left out
  const [keys, prefixConnections, processWide] = await Promise.all([
    reappearingKeys(redis, prefix, opts.recheckMs),
    settle(async () => (await clientList(redis)).filter((c) => c.name.startsWith(`${prefix}:`)), settleMs),
    processLeaks(redis, settleMs),
  ]);
  const problems = [
    ...processWide.children.map((c) => `child process still running: ${c.pid} ${c.cmd}`),
    ...(keys.length
      ? [
          `${keys.length} key(s) re-appeared after the prefix was deleted (something still writes): ` +
            keys.slice(0, 10).join(', '),
        ]
      : []),
    ...prefixConnections.map((c) => `Redis connection still open: ${c.name} (${c.addr})`),
    ...processWide.connections.map(
      (c) => `Redis connection of this process still open: ${c.name || '(no name)'} (local port ${c.port})`,
    ),
  ];
  if (problems.length) {
    throw new LeakError(`left running by the harness of ${prefix}:\n  - ${problems.join('\n  - ')}`);
  }
}

/** Waits `ms`, then lists (and deletes again) the keys under `prefix:`. */
async function reappearingKeys(redis: Redis, prefix: string, ms: number): Promise<string[]> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  const keys: string[] = [];
  for await (const batch of scanPrefix(redis, prefix)) keys.push(...batch);
  if (keys.length) await deletePrefix(redis, prefix); // leave nothing behind, failing or not
  return keys.sort();
}

interface ProcessLeaks {
  children: { pid: number; cmd: string }[];
  connections: { port: number; name: string }[];
}

async function processLeaks(redis: Redis, settleMs: number): Promise<ProcessLeaks> {
  const redisPort = Number(redis.options.port ?? 6379);
  const ownPort = redis.stream?.localPort;
  const connections = async () => {
    const ports = ownTcpConnections(redisPort).filter((p) => p !== ownPort);
    if (!ports.length) return [];
    const names = new Map((await clientList(redis)).map((c) => [c.port, c.name]));
    // A socket Redis no longer lists is closed on its side and not yet on ours: still held.
    return ports.map((port) => ({ port, name: names.get(port) ?? '(closed by Redis)' }));
  };
  if ((await connections()).some((c) => c.name === '')) {
    return { children: [], connections: [] }; // another harness is open: its cleanup checks
  }
  const [children, open] = await Promise.all([
    settle(() => liveChildren().map((s) => ({ pid: s.pid, cmd: cmdline(s.pid) || s.comm })), settleMs),
    settle(connections, settleMs),
  ]);
  return { children, connections: open };
}

interface ClientInfo {
  name: string;
  addr: string;
  port: number;
}

async function clientList(redis: Redis): Promise<ClientInfo[]> {
  const text = (await redis.client('LIST')) as string;
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const addr = /(?:^| )addr=(\S+)/.exec(line)?.[1] ?? '';
      return {
        name: /(?:^| )name=(\S*)/.exec(line)?.[1] ?? '',
        addr,
        port: Number(addr.slice(addr.lastIndexOf(':') + 1)),
      };
    });
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
