/**
 * One provider's accounts in one worker process: which of them may take jobs now.
 *
 * Each account has its own BullMQ Worker on the provider's queue (with the account's
 * concurrency), so a job goes to whichever account has a free slot. When an account is held (a
 * usage-limit reply here, or a hold another box set in Redis, read every ACCOUNT_HOLD_POLL_MS),
 * its Worker is paused locally: it finishes what it runs and takes nothing new, while the other
 * accounts' Workers go on. Only when every live account of the provider is held is the queue
 * itself rate-limited until the first reset, so that no worker anywhere spins on it.
 *
 * When a hold's time has passed, one worker (a Redis lock elects it) probes the account with one
 * cheap request; the first success lifts the hold and the account's Worker resumes. A probe that
 * meets the limit again renews the hold; one that fails otherwise is retried a little later.
 */
import {
  clearQueueHold,
  creditOf,
  queueHoldMs,
  nextMonthStart,
  type AccountCredit,
  type Config,
  type GenerateQueue,
  type GenerateWorker,
  type Hold,
  type HoldReason,
  type Holds,
  type Logger,
  type Provider,
  type RedisKeys,
} from '@cli-bridge/shared';
import type { Redis } from 'ioredis';
import type { WorkerAccount } from './accounts.js';
import type { AccountGateHandle } from './generate.processor.js';

/** What a probe found: the account answers, is still held (until when, why), or failed otherwise. */
export type ProbeOutcome =
  | { status: 'ok'; costMicros: number }
  | { status: 'held'; until: number; reason: HoldReason; message: string; costMicros: number }
  | { status: 'error'; message: string };

export interface AccountGateDeps {
  provider: Provider;
  accounts: readonly WorkerAccount[];
  holds: Holds;
  credit: AccountCredit;
  queue: GenerateQueue;
  /** Fail-fast connection, for the probe lock. */
  redis: Redis;
  keys: RedisKeys;
  config: Pick<
    Config,
    | 'ACCOUNT_HOLD_POLL_MS'
    | 'USAGE_LIMIT_COOLDOWN_MS'
    | 'CLAUDE_ACCOUNT_CREDIT_USD'
    | 'CLAUDE_ACCOUNT_CREDIT_STOP_SHARE'
  >;
  /** Runs one cheap request on the account (see account-probe.ts). */
  probe(account: WorkerAccount, signal: AbortSignal): Promise<ProbeOutcome>;
  /** Longest a probe may take (ms): the probe lock lives this long. */
  probeTimeoutMs: number;
  logger: Logger;
  now?: () => number;
}

export interface AccountGate {
  /** The processor's view of one account. */
  handle(account: string): AccountGateHandle;
  /** The BullMQ Worker taking jobs for the account (paused while it is held). */
  attach(account: string, worker: GenerateWorker): void;
  /** Reads the holds once and acts on them (pause, resume, probe, queue limit). */
  refresh(): Promise<void>;
  /** Starts reading the holds every ACCOUNT_HOLD_POLL_MS. */
  start(): void;
  /** Idempotent: stops the timer and any probe under way. */
  close(): Promise<void>;
}

/** How long a failed probe (not a usage limit: a network error, a crash) waits before the next (ms). */
const PROBE_RETRY_MS = 60_000;

export function createAccountGate(deps: AccountGateDeps): AccountGate {
  const { provider, holds, config } = deps;
  const clock = deps.now ?? Date.now;
  const log = deps.logger.child({ component: 'account-gate', provider });
  const held = new Map<string, boolean>(deps.accounts.map((a) => [a.name, false]));
  const workers = new Map<string, GenerateWorker>();
  const probing = new Set<string>();
  const running = new Set<Promise<void>>();
  const stop = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let refreshing: Promise<void> | undefined;

  function setHeld(account: string, on: boolean): void {
    if (held.get(account) === on) return;
    held.set(account, on);
    const w = workers.get(account);
    log.info({ account, held: on }, on ? 'account held: not taking jobs on it' : 'account serving again');
    if (!w) return;
    // Pausing does not wait for the account's running jobs: they finish on their own.
    if (on) void w.pause(true).catch((err: unknown) => log.warn({ err, account }, 'pause failed'));
    else void w.resume();
  }

  /** Rate-limits the queue while every live account is held; lifts that limit once one is free. */
  async function syncQueueLimit(): Promise<void> {
    const now = clock();
    const ex = await holds.exhausted(provider, now);
    if (ex) {
      await deps.queue.rateLimit(Math.max(1_000, ex.until - now));
    } else if ((await queueHoldMs(deps.queue)) > 0) {
      await clearQueueHold(deps.queue);
    }
  }

  /** Bumped by every hold this worker sets: a refresh that read Redis before it must not undo it. */
  let localHolds = 0;

  /** Holds an account: here at once, for every box through Redis. Never throws (a job waits on it). */
  async function hold(account: string, h: { until: number; reason: HoldReason; message?: string }) {
    localHolds++;
    setHeld(account, true);
    try {
      await holds.set(provider, account, h);
      await syncQueueLimit();
    } catch (err) {
      log.warn({ err, account }, 'could not share the hold through Redis; held here only');
    }
  }

  async function probe(account: WorkerAccount, seen: Hold): Promise<void> {
    if (probing.has(account.name) || stop.signal.aborted) return;
    const lock = deps.keys.probeLock(provider, account.name);
    const got = await deps.redis.set(lock, '1', 'PX', deps.probeTimeoutMs + 5_000, 'NX');
    if (got !== 'OK') return; // another worker probes it (or a failed probe waits to retry)
    probing.add(account.name);
    const plog = log.child({ account: account.name });
    try {
      plog.info('probing held account');
      const out = await deps.probe(account, stop.signal);
      if (out.status !== 'error') await spent(account.name, out.costMicros);
      if (out.status === 'ok') {
        if (await holds.clearIf(provider, account.name, seen)) plog.info('probe succeeded: hold lifted');
        await deps.redis.del(lock);
        await syncQueueLimit();
        setHeld(account.name, false);
      } else if (out.status === 'held') {
        plog.warn({ until: new Date(out.until).toISOString(), reason: out.reason }, 'probe: still held');
        await holds.set(provider, account.name, {
          until: Math.max(out.until, clock() + 1_000),
          reason: out.reason,
          message: out.message,
        });
        await deps.redis.del(lock);
        await syncQueueLimit();
      } else {
        plog.warn({ message: out.message }, 'probe failed; trying again later');
        await deps.redis.set(lock, '1', 'PX', Math.min(PROBE_RETRY_MS, config.USAGE_LIMIT_COOLDOWN_MS));
      }
    } finally {
      probing.delete(account.name);
    }
  }

  async function refreshOnce(): Promise<void> {
    const now = clock();
    const seen = localHolds;
    const all = await holds.list(provider);
    // A hold set here while the list was read may be missing from it: the next round has it.
    if (seen !== localHolds) return;
    for (const account of deps.accounts) {
      const h = all.get(account.name);
      setHeld(account.name, h !== undefined);
      if (h && h.until <= now) {
        const p = probe(account, h)
          .catch((err: unknown) => log.warn({ err, account: account.name }, 'probe could not run'))
          .finally(() => running.delete(p));
        running.add(p);
      }
    }
    await syncQueueLimit();
  }

  /** One refresh at a time; a call during one waits for it. */
  function refresh(): Promise<void> {
    refreshing ??= refreshOnce().finally(() => (refreshing = undefined));
    return refreshing;
  }

  /** Adds a run's cost to the account's month; past the credit stop share, holds the account. */
  async function spent(account: string, costMicros: number): Promise<void> {
    try {
      const sum = await deps.credit.add(provider, account, costMicros);
      const credit = provider === 'claude' ? creditOf(config.CLAUDE_ACCOUNT_CREDIT_USD, account) : undefined;
      const share = config.CLAUDE_ACCOUNT_CREDIT_STOP_SHARE;
      if (credit === undefined || share === undefined || sum < share * credit * 1_000_000) return;
      const current = await holds.get(provider, account);
      if (current?.reason === 'credit_stop' && current.until > clock()) return;
      const message = `spent $${(sum / 1_000_000).toFixed(2)} of its $${credit} Agent SDK credit this month (stop share ${share})`;
      log.warn(
        { account, spentMicros: sum, credit, share },
        'account reached its credit stop share: holding it',
      );
      await hold(account, { until: nextMonthStart(clock()), reason: 'credit_stop', message });
    } catch (err) {
      log.warn({ err, account }, 'could not record the account spend');
    }
  }

  let closing: Promise<void> | undefined;
  return {
    handle(account: string): AccountGateHandle {
      return {
        isHeld: () => held.get(account) === true,
        hold: (h) => hold(account, h),
        spent: (costMicros) => spent(account, costMicros),
      };
    },
    attach(account, worker) {
      workers.set(account, worker);
      if (held.get(account)) void worker.pause(true);
    },
    refresh,
    start() {
      const tick = () => {
        refresh()
          .catch((err: unknown) => log.warn({ err }, 'could not read the account holds'))
          .finally(() => {
            if (!stop.signal.aborted) timer = setTimeout(tick, config.ACCOUNT_HOLD_POLL_MS).unref();
          });
      };
      tick();
    },
    close() {
      closing ??= (async () => {
        stop.abort();
        clearTimeout(timer);
        await refreshing?.catch(() => {});
        await Promise.allSettled([...running]);
      })();
      return closing;
    },
  };
}
