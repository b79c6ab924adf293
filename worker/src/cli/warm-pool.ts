/**
 * The warm pool of one worker: CLI processes started ahead of their job, each waiting on stdin in
 * its own fresh scratch directory. Claude Code spends ~0.6 s starting up before it reads its
 * prompt; a job that finds a process waiting for its key skips that.
 *
 * A process is bound to its key at start-up (the CLI reads its model, flags and system prompt file
 * then), so the pool is keyed by everything that fixes it: provider, account, and the adapter's
 * `warmKey` (see cli-spawner.ts). Rules:
 * - one process serves one job: `take` hands it over and forgets it, it is never reused;
 * - `fill` keeps `perKey` ready for a key after a job of that key; a process that exits while
 *   waiting is discarded (and its directory removed), so `take` never returns a dead one;
 * - caps, each enforced by evicting the process of the least recently used key, or else by not
 *   starting one: `maxTotal` processes; `maxRssBytes` of resident memory over all waiting
 *   processes (each with its children, read from /proc on each sweep; a new one is assumed as large as the largest seen of
 *   its provider); per provider, running jobs + waiting processes ≤ its concurrency, so warm
 *   processes never take a real job's slot (no warm start while every slot is busy);
 * - a process waiting longer than `idleMs` is killed;
 * - every process is in its own process group, watched by the group reaper (run-cli.ts), so none
 *   outlives the worker even on SIGKILL; `close()` kills them all.
 */
import type { Logger, Provider } from '@cli-bridge/shared';
import { procTreeRssBytes } from './proc-rss.js';
import type { StartedCli } from './run-cli.js';

/** A waiting process and what it needs to be run and cleaned up. */
export interface WarmProcess<T = unknown> {
  readonly cli: StartedCli;
  /** What the spawner needs to run it (its scratch directories and invocation). */
  readonly meta: T;
  /** Kills the process (if still there) and removes its scratch directory. */
  dispose(): Promise<void>;
}

export interface WarmPoolOptions {
  /** Processes in all (0: the pool is off). */
  maxTotal: number;
  /** Processes kept ready per key. */
  perKey: number;
  /** Resident memory of all waiting processes together (bytes). */
  maxRssBytes: number;
  /** A process waiting longer than this (ms) is killed. */
  idleMs: number;
  /** The worker's concurrency for a provider. */
  concurrency(provider: Provider): number;
  /** Jobs of a provider running a CLI now. */
  busy(provider: Provider): number;
  logger: Logger;
  /** How often idle processes are checked and measured (ms, default 1000). */
  sweepMs?: number;
  /** Resident memory of a process and its children (bytes), undefined when gone; default: /proc. */
  readRssBytes?: (pid: number) => number | undefined;
  now?: () => number;
}

export interface WarmPoolStats {
  /** Processes waiting now (spawned, ready for a job). */
  size: number;
  /** Processes being started now (scratch directory and spawn under way). */
  starting: number;
  hits: number;
  misses: number;
  /** Killed to respect a cap, or idle past `idleMs`. */
  evictions: number;
  /** Died while waiting (never handed to a job). */
  discarded: number;
  /** Resident memory of the waiting processes at the last sweep (MiB). */
  rssMb: number;
}

export interface WarmPool<T = unknown> {
  /** A live process for `key`, now the caller's (it runs it, then disposes it), or undefined. */
  take(key: string): WarmProcess<T> | undefined;
  /** Gives back a process `take` returned that was never given a prompt (the job did not run). */
  putBack(key: string, provider: Provider, proc: WarmProcess<T>): void;
  /** Starts processes for `key` until `perKey` wait, within the caps. Never throws. */
  fill(key: string, provider: Provider, start: () => Promise<WarmProcess<T>>): void;
  stats(): WarmPoolStats;
  /** Kills every waiting process and removes its directory. Idempotent. */
  close(): Promise<void>;
}

interface Entry<T> {
  key: string;
  provider: Provider;
  proc: WarmProcess<T>;
  addedAt: number;
  rss: number;
}

export function createWarmPool<T>(opts: WarmPoolOptions): WarmPool<T> {
  const now = opts.now ?? Date.now;
  const readRss = opts.readRssBytes ?? procTreeRssBytes;
  const log = opts.logger.child({ component: 'warm-pool' });
  const idle: Entry<T>[] = [];
  /** Starts under way, per key and per provider. */
  const startingByKey = new Map<string, number>();
  const startingByProvider = new Map<Provider, number>();
  const pending = new Set<Promise<void>>();
  /** When each key was last asked for (take or fill): the LRU order of eviction. */
  const keyUsedAt = new Map<string, number>();
  /** Largest RSS seen per provider: the estimate for a process about to start. */
  const largestRss = new Map<Provider, number>();
  let hits = 0;
  let misses = 0;
  let evictions = 0;
  let discarded = 0;
  let closed = false;
  let closing: Promise<void> | undefined;

  const inc = <K>(m: Map<K, number>, k: K, d: number) => m.set(k, (m.get(k) ?? 0) + d);
  const starting = () => [...startingByKey.values()].reduce((a, b) => a + b, 0);
  const size = () => idle.length + starting();
  const ofProvider = (p: Provider) =>
    idle.filter((e) => e.provider === p).length + (startingByProvider.get(p) ?? 0);
  const rssTotal = () => idle.reduce((a, e) => a + e.rss, 0);

  function remove(e: Entry<T>): boolean {
    const i = idle.indexOf(e);
    if (i < 0) return false;
    idle.splice(i, 1);
    return true;
  }

  function dispose(e: Entry<T>): void {
    const p = e.proc
      .dispose()
      .catch((err: unknown) => log.warn({ err }, 'could not dispose of a warm process'));
    pending.add(p);
    void p.finally(() => pending.delete(p));
  }

  function evict(e: Entry<T>, why: string): void {
    if (!remove(e)) return;
    evictions++;
    log.debug({ pid: e.proc.cli.pid, why }, 'warm process evicted');
    dispose(e);
  }

  /** The waiting process of the least recently used key (among those `filter` accepts). */
  function lru(filter: (e: Entry<T>) => boolean = () => true): Entry<T> | undefined {
    let best: Entry<T> | undefined;
    for (const e of idle) {
      if (!filter(e)) continue;
      const used = keyUsedAt.get(e.key) ?? 0;
      if (!best || used < (keyUsedAt.get(best.key) ?? 0)) best = e;
    }
    return best;
  }

  /** Evicts until one more process of `provider` fits every cap; false if it cannot. */
  function makeRoom(provider: Provider): boolean {
    while (opts.busy(provider) + ofProvider(provider) + 1 > opts.concurrency(provider)) {
      const e = lru((x) => x.provider === provider);
      if (!e) return false;
      evict(e, 'concurrency');
    }
    while (size() + 1 > opts.maxTotal) {
      const e = lru();
      if (!e) return false;
      evict(e, 'max');
    }
    const estimate = largestRss.get(provider) ?? 0;
    while (rssTotal() + estimate > opts.maxRssBytes) {
      const e = lru();
      if (!e) return false;
      evict(e, 'memory');
    }
    return true;
  }

  function add(key: string, provider: Provider, proc: WarmProcess<T>): void {
    const e: Entry<T> = { key, provider, proc, addedAt: now(), rss: 0 };
    idle.push(e);
    proc.cli.onExit(() => {
      if (!remove(e)) return;
      discarded++;
      log.debug({ pid: proc.cli.pid }, 'warm process died while waiting');
      dispose(e);
    });
    if (!proc.cli.alive() && remove(e)) {
      discarded++;
      dispose(e);
    }
  }

  function sweep(): void {
    const t = now();
    for (const e of [...idle]) {
      if (t - e.addedAt > opts.idleMs) {
        evict(e, 'idle');
        continue;
      }
      const pid = e.proc.cli.pid;
      const rss = pid === undefined ? undefined : readRss(pid);
      if (rss === undefined) continue; // gone: its exit handler removes it
      e.rss = rss;
      if (rss > (largestRss.get(e.provider) ?? 0)) largestRss.set(e.provider, rss);
    }
    while (rssTotal() > opts.maxRssBytes) {
      const e = lru();
      if (!e) break;
      evict(e, 'memory');
    }
  }

  const timer = opts.maxTotal > 0 ? setInterval(sweep, opts.sweepMs ?? 1_000) : undefined;
  timer?.unref();

  return {
    take(key) {
      if (opts.maxTotal === 0) return undefined;
      keyUsedAt.set(key, now());
      for (;;) {
        const e = idle.find((x) => x.key === key);
        if (!e) break;
        remove(e);
        if (e.proc.cli.alive()) {
          hits++;
          return e.proc;
        }
        discarded++;
        dispose(e);
      }
      misses++;
      return undefined;
    },

    putBack(key, provider, proc) {
      if (closed || !proc.cli.alive()) {
        void proc.dispose().catch(() => {});
        return;
      }
      hits--; // it served nothing
      add(key, provider, proc);
    },

    fill(key, provider, start) {
      if (closed || opts.maxTotal === 0) return;
      keyUsedAt.set(key, now());
      let have = idle.filter((e) => e.key === key).length + (startingByKey.get(key) ?? 0);
      for (; have < opts.perKey; have++) {
        if (!makeRoom(provider)) return;
        inc(startingByKey, key, 1);
        inc(startingByProvider, provider, 1);
        // Started → waiting in one step, so `size` never counts a process twice or not at all.
        const landed = () => {
          inc(startingByKey, key, -1);
          if (!startingByKey.get(key)) startingByKey.delete(key);
          inc(startingByProvider, provider, -1);
        };
        const p = start()
          .then(
            (proc) => {
              landed();
              if (closed) return proc.dispose();
              add(key, provider, proc);
            },
            (err: unknown) => {
              landed();
              log.warn({ err, provider }, 'could not start a warm process');
            },
          )
          .finally(() => pending.delete(p));
        pending.add(p);
      }
    },

    stats: () => ({
      size: idle.length,
      starting: starting(),
      hits,
      misses,
      evictions,
      discarded,
      rssMb: Math.round((rssTotal() / 1024 / 1024) * 10) / 10,
    }),

    close() {
      closing ??= (async () => {
        closed = true;
        clearInterval(timer);
        for (const e of idle.splice(0)) dispose(e);
        // Starts under way dispose of their process when they land (closed is set).
        while (pending.size > 0) await Promise.allSettled([...pending]);
      })();
      return closing;
    },
  };
}
