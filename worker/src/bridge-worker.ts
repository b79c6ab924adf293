/**
 * One worker process: a BullMQ Worker per account of each provider it serves (account-gate.ts
 * pauses an account's Worker while the account is held), a heartbeat in the registry, and an
 * ordered shutdown (stop taking jobs → let running ones finish → past the drain deadline kill
 * the CLIs and hand their jobs back to the queue).
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import {
  closeWithin,
  createAccountCredit,
  createHolds,
  createGenerateQueue,
  createGenerateWorker,
  createJobEvents,
  createLeases,
  createSettlement,
  createWorkerRegistry,
  enableQueueHolds,
  generateJobDataSchema,
  redisReady,
  type GenerateJob,
  type Config,
  type GenerateQueue,
  type GenerateWorker,
  type Logger,
  type Provider,
  type RedisKeys,
} from '@cli-bridge/shared';
import type { Redis } from 'ioredis';
import { createAccountGate, type AccountGate } from './account-gate.js';
import { createAccountProbe } from './account-probe.js';
import { accountAuth, workerAccounts, type WorkerAccount } from './accounts.js';
import type { CliAdapter } from './cli/adapter.js';
import { createCliSpawner } from './cli/cli-spawner.js';
import { sweepOrphans } from './orphans.js';
import { CANCEL_REASON, createGenerateProcessor, SHUTDOWN_REASON } from './generate.processor.js';

export interface BridgeWorkerDeps {
  config: Config;
  logger: Logger;
  /** Blocking-capable connection (role `worker`) shared by this process's BullMQ workers. */
  workerRedis: Redis;
  /**
   * Connection (role `worker`: it waits out a Redis blip) for settlement, leases and job events.
   * Not shared with BullMQ, whose Lua command definitions ioredis copies into every MULTI.
   */
  accountingRedis: Redis;
  /** Fail-fast connection (role `producer`) for heartbeats and queue holds. */
  redis: Redis;
  /** Connection (role `subscriber`) for cancel requests; taken over by this worker. */
  subscriberRedis: Redis;
  keys: RedisKeys;
  adapters: Partial<Record<Provider, CliAdapter>>;
  cliVersions: Record<string, string | null>;
  baseEnv: Record<string, string | undefined>;
  hostname: string;
  tmpRoot?: string;
}

export interface BridgeWorker {
  readonly id: string;
  readonly providers: Provider[];
  start(): Promise<void>;
  /** Idempotent. Running jobs get `drainMs` to finish before their CLIs are killed. */
  close(opts?: { drainMs?: number }): Promise<void>;
}

export function createBridgeWorker(deps: BridgeWorkerDeps): BridgeWorker {
  const { config } = deps;
  const id = `${deps.hostname}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const log = deps.logger.child({ component: 'worker', workerId: id });
  const providers = Object.keys(deps.adapters) as Provider[];
  const registry = createWorkerRegistry({
    redis: deps.redis,
    keys: deps.keys,
    heartbeatMs: config.WORKER_HEARTBEAT_MS,
  });
  const startedAt = Date.now();
  /** Ids of the jobs running now. */
  const running = new Set<string>();

  const queues = new Map<Provider, GenerateQueue>();
  const queueFor = (p: Provider) => {
    let q = queues.get(p);
    if (!q) {
      q = createGenerateQueue(p, {
        connection: deps.redis,
        prefix: deps.keys.prefix,
        config,
      });
      q.on('error', (err) => log.warn({ err }, 'queue error'));
      queues.set(p, q);
    }
    return q;
  };

  // Settlement waits out a Redis blip (retrying connection) instead of losing usage. It shares
  // its connection with the job events on purpose: the processor sends a job's settlement and its
  // final events back to back and relies on Redis running one connection's commands in order.
  const settlement = createSettlement({
    redis: deps.accountingRedis,
    keys: deps.keys,
    logMaxEntries: config.LOG_MAX_ENTRIES,
    jobTtlS: config.JOB_RESULT_TTL_S,
    logPromptChars: config.LOG_PROMPT_CHARS,
  });
  const leases = createLeases({ redis: deps.accountingRedis, keys: deps.keys });
  const events = createJobEvents({
    redis: deps.accountingRedis,
    keys: deps.keys,
    ttlS: config.JOB_RESULT_TTL_S,
  });
  const holds = createHolds({ redis: deps.redis, keys: deps.keys, heartbeatMs: config.WORKER_HEARTBEAT_MS });
  const credit = createAccountCredit({ redis: deps.accountingRedis, keys: deps.keys });
  const accounts = new Map<Provider, WorkerAccount[]>(providers.map((p) => [p, workerAccounts(p, config)]));
  const auth = new Map(
    [...accounts.values()].flat().map((a) => [`${a.provider}:${a.name}`, accountAuth(a, deps.baseEnv)]),
  );
  // Cold spawns and the warm pool (WARM_POOL_*): the one way a job gets its CLI. Its budget per
  // provider is the sum of that provider's account concurrencies (running + waiting stay within it).
  const spawner = createCliSpawner({
    config,
    baseEnv: deps.baseEnv,
    logger: log,
    tmpRoot: deps.tmpRoot,
    concurrency: (p) => (accounts.get(p) ?? []).reduce((sum, a) => sum + a.concurrency, 0),
  });

  const counted =
    (processor: ReturnType<typeof createGenerateProcessor>): typeof processor =>
    async (job, token, signal) => {
      const jobId = job.id!;
      running.add(jobId);
      try {
        return await processor(job, token, signal);
      } finally {
        running.delete(jobId);
      }
    };

  const gates = new Map<Provider, AccountGate>();
  const workers: GenerateWorker[] = [];
  for (const p of providers) {
    const adapter = deps.adapters[p]!;
    const gate = createAccountGate({
      provider: p,
      accounts: accounts.get(p)!,
      holds,
      credit,
      queue: queueFor(p),
      redis: deps.redis,
      keys: deps.keys,
      config,
      probe: createAccountProbe({ adapter, config, baseEnv: deps.baseEnv, tmpRoot: deps.tmpRoot }),
      probeTimeoutMs:
        (p === 'claude' ? config.CLAUDE_TIMEOUT_MS : config.CODEX_TIMEOUT_MS) + 2 * config.KILL_GRACE_MS,
      logger: log,
    });
    gates.set(p, gate);
    for (const account of accounts.get(p)!) {
      const processor = createGenerateProcessor({
        settlement,
        leases,
        events,
        adapters: deps.adapters,
        config,
        spawner,
        logger: log,
        account,
        gate: gate.handle(account.name),
        trace: config.TRACE_STAGES,
      });
      const w = createGenerateWorker(p, counted(processor), {
        connection: deps.workerRedis,
        prefix: deps.keys.prefix,
        concurrency: account.concurrency,
        lockDurationMs: config.WORKER_LOCK_DURATION_MS,
        stalledIntervalMs: config.WORKER_STALLED_INTERVAL_MS,
        onStalledOut: (job, reason) => void settleStalled(job, reason),
      });
      w.on('error', (err) => log.warn({ err, provider: p, account: account.name }, 'worker error'));
      w.on('failed', (job, err) => log.debug({ jobId: job?.id, err }, 'job failed'));
      gate.attach(account.name, w);
      workers.push(w);
    }
  }

  async function settleStalled(job: GenerateJob, reason: string): Promise<void> {
    const parsed = generateJobDataSchema.safeParse(job.data);
    if (!parsed.success) return;
    try {
      await settlement.stalled({ id: job.id!, data: parsed.data, timestamp: job.timestamp }, reason);
    } catch (err) {
      log.error({ jobId: job.id, err }, 'settlement of a stalled job failed');
    }
  }

  /** A provider's parallel runs in this worker: its accounts' together. */
  const concurrency = (p: Provider) => accounts.get(p)!.reduce((n, a) => n + a.concurrency, 0);
  const accountInfo = (p: Provider) =>
    accounts.get(p)!.map((a) => ({
      name: a.name,
      concurrency: a.concurrency,
      authMode: auth.get(`${p}:${a.name}`)!.mode,
    }));

  const beat = async () => {
    try {
      const now = Date.now();
      await Promise.all(
        providers.map((p) =>
          holds.announce(
            p,
            accounts.get(p)!.map((a) => a.name),
            now,
          ),
        ),
      );
      await registry.beat({
        id,
        host: deps.hostname,
        pid: process.pid,
        providers,
        concurrency: Object.fromEntries(providers.map((p) => [p, concurrency(p)])),
        active: running.size,
        activeJobs: [...running],
        warmPool: spawner.stats(),
        cliVersions: deps.cliVersions,
        accounts: Object.fromEntries(providers.map((p) => [p, accountInfo(p)])),
        startedAt,
        lastBeat: now,
      });
    } catch (err) {
      log.warn({ err }, 'heartbeat failed');
    }
  };
  let heartbeat: NodeJS.Timeout | undefined;

  let closing: Promise<void> | undefined;
  async function close(opts: { drainMs?: number } = {}): Promise<void> {
    closing ??= (async () => {
      clearInterval(heartbeat);
      // No warm start from here on (jobs finishing in the drain would ask for one); kill the waiting.
      const warmClosed = spawner.close();
      await Promise.all([...gates.values()].map((g) => g.close()));
      await closeWithin(() => deps.subscriberRedis.unsubscribe(), 1_000);
      const drainMs = opts.drainMs ?? config.SHUTDOWN_TIMEOUT_MS;
      log.info({ active: running.size, drainMs }, 'worker closing');
      const closed = Promise.all(workers.map((w) => w.close()));
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([
        closed.then(() => true),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), drainMs))),
      ]);
      clearTimeout(timer);
      if (!drained) {
        log.warn(
          { active: running.size },
          'drain deadline passed: stopping running CLIs and handing their jobs back',
        );
        for (const w of workers) w.cancelAllJobs(SHUTDOWN_REASON);
        // The CLIs die within the kill grace; BullMQ then hands the jobs back (bounded: Redis may be gone).
        await closeWithin(() => closed, config.KILL_GRACE_MS + 5_000);
      }
      // Each cleanup on its own and bounded, so one failure or a dead Redis skips nothing.
      const warn = (what: string) => (err: unknown) => log.warn({ err }, what);
      await closeWithin(() => warmClosed, config.KILL_GRACE_MS + 5_000, warn('warm pool close failed'));
      await closeWithin(() => registry.remove(id), 2_000, warn('could not remove heartbeat'));
      await Promise.all(
        [...queues.values()].map((q) => closeWithin(() => q.close(), 2_000, warn('queue close failed'))),
      );
      log.info('worker closed');
    })();
    return closing;
  }

  return {
    id,
    providers,
    async start() {
      sweepOrphans(deps.tmpRoot ?? tmpdir(), log);
      for (const [p, list] of accounts) {
        for (const a of list) {
          const { mode, warning } = auth.get(`${p}:${a.name}`)!;
          log.info({ provider: p, account: a.name, authMode: mode, concurrency: a.concurrency }, 'account');
          // Loud on purpose: an API key silently turns subscription runs into API-priced ones.
          if (warning) log.warn({ provider: p, account: a.name, authMode: mode }, `WARNING: ${warning}`);
        }
      }
      // Accounts already held (by another box, or before a restart) start paused.
      await redisReady(deps.redis);
      await Promise.all([...gates.values()].map((g) => g.refresh()));
      for (const w of workers) {
        w.run().catch((err: unknown) => log.error({ err }, 'worker stopped'));
      }
      // Cancels are published to every worker; the one running the job kills its CLI.
      deps.subscriberRedis.on('message', (_channel: string, message: string) => {
        try {
          const { jobId } = JSON.parse(message) as { jobId?: unknown };
          if (typeof jobId !== 'string') return;
          for (const w of workers)
            if (w.cancelJob(jobId, CANCEL_REASON)) log.info({ jobId }, 'cancelling running job');
        } catch {
          log.warn('malformed cancel message');
        }
      });
      await deps.subscriberRedis.subscribe(deps.keys.cancelChannel);
      await Promise.all(workers.map((w) => w.waitUntilReady()));
      // The first beat must land: until it does, the API believes no worker serves the provider.
      await redisReady(deps.redis);
      // Before the first beat, as soon as the (fail-fast) connection is up: a hold set by a job
      // that ran before it binds from then on.
      await Promise.all(providers.map((p) => enableQueueHolds(queueFor(p))));
      await beat();
      heartbeat = setInterval(() => void beat(), config.WORKER_HEARTBEAT_MS);
      heartbeat.unref();
      for (const g of gates.values()) g.start();
      log.info({ providers, cliVersions: deps.cliVersions }, 'worker started');
    },
    close,
  };
}
