/**
 * Prometheus metrics of one API process (prom-client), in two kinds:
 * - this process's HTTP traffic (`cli_bridge_requests_total`, `cli_bridge_request_duration_seconds`)
 *   and Node's own process metrics: per instance, so scrape every API instance;
 * - fleet-wide series read from Redis at scrape time: what the workers produced (tokens, cost,
 *   jobs, queue wait, CLI run time, time to first token; written by settlement, see
 *   shared/src/accounting/fleet-metrics.ts), the queues, the live workers and the holds. Every
 *   instance reports the same fleet values: aggregate them with max, not sum.
 * `refresh()` reads Redis once per scrape; the collectors then read that snapshot. With Redis
 * down the fleet series are left out and `cli_bridge_redis_up` is 0.
 */
import {
  PROVIDERS,
  readFleetMetrics,
  type FleetHistogramSample,
  type FleetMetrics,
  type GenerateQueue,
  type Provider,
  type RedisKeys,
  type WorkerRegistry,
  FLEET_HISTOGRAMS,
} from '@cli-bridge/shared';
import type { Redis } from 'ioredis';
import type { AccountView } from './holds.service.js';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Queue states reported per provider. */
const QUEUE_STATES = ['waiting', 'active', 'delayed'] as const;

/** Request duration buckets (s): from a refused request to a long synchronous generate. */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

interface Snapshot {
  fleet: FleetMetrics;
  queues: Record<Provider, Record<string, number>>;
  workers: Record<Provider, number>;
  /** Each provider's accounts, with their hold and (Claude) credit. */
  accounts: (AccountView & { provider: Provider })[];
}

/**
 * A histogram whose values are a snapshot's (cumulative counts kept in Redis), not observations:
 * prom-client has no way to set a histogram's buckets, so its export is replaced.
 */
class SnapshotHistogram extends Histogram<string> {
  constructor(
    private readonly id: { name: string; help: string },
    labelNames: string[],
    buckets: readonly number[],
    private readonly samples: () => FleetHistogramSample[],
  ) {
    super({ ...id, labelNames, buckets: [...buckets], registers: [] });
  }

  /**
   * What the registry renders, and what the base class's `get()` reads (prom-client's own
   * version exports the observations, of which there are none).
   */
  async getForPromString() {
    const { name, help } = this.id;
    const values = this.samples().flatMap((s) => [
      ...s.buckets.map((b) => ({
        metricName: `${name}_bucket`,
        labels: { ...s.labels, le: b.le },
        value: b.count,
      })),
      { metricName: `${name}_sum`, labels: s.labels, value: s.sum },
      { metricName: `${name}_count`, labels: s.labels, value: s.count },
    ]);
    return { name, help, type: 'histogram', aggregator: 'sum', values };
  }
}

export interface MetricsDeps {
  /** Fail-fast connection. */
  redis: Redis;
  keys: RedisKeys;
  queues: Record<Provider, GenerateQueue>;
  registry: WorkerRegistry;
  /** A provider's accounts with their holds and credits (the admin holds service). */
  accounts(provider: Provider): Promise<AccountView[]>;
}

/** What one finished HTTP request adds to this process's metrics. */
export interface RequestObservation {
  route: string;
  method: string;
  status: string;
  provider: string;
  model: string;
  key: string;
  seconds: number;
}

/** How often the event loop's delay is sampled for `nodejs_eventloop_lag_*` (ms). */
export const EVENT_LOOP_SAMPLE_MS = 100;

export function createMetricsService(deps: MetricsDeps) {
  const register = new Registry();
  // The event loop's delay is sampled every 100 ms, not prom-client's default 10 ms: a timer every
  // 10 ms woke an idle API 100 times a second (about 1% of a core on a 2-vCPU VM, for samples no
  // dashboard looks at that finely; BENCHMARKS.md, "Idle wake-ups").
  collectDefaultMetrics({ register, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  let snap: Snapshot | undefined;
  const registers = [register];

  const requests = new Counter({
    name: 'cli_bridge_requests_total',
    help: 'HTTP requests answered by this API process',
    labelNames: ['route', 'method', 'provider', 'model', 'status', 'key'],
    registers,
  });
  const duration = new Histogram({
    name: 'cli_bridge_request_duration_seconds',
    help: 'HTTP request duration in this API process, to the end of the answer (streams included)',
    labelNames: ['route', 'method', 'provider', 'status'],
    buckets: REQUEST_BUCKETS,
    registers,
  });

  const redisUp = new Gauge({
    name: 'cli_bridge_redis_up',
    help: '1 when this scrape could read Redis (the fleet-wide series are present), else 0',
    registers,
    collect() {
      this.set(snap ? 1 : 0);
    },
  });
  void redisUp;

  /** A fleet counter: reset to the snapshot's values at each scrape. */
  const fleetCounter = (
    name: string,
    help: string,
    labelNames: string[],
    read: (f: FleetMetrics) => { labels: Record<string, string>; value: number }[],
  ) =>
    new Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        if (snap) for (const s of read(snap.fleet)) this.inc(s.labels, s.value);
      },
    });
  fleetCounter(
    'cli_bridge_tokens_total',
    'Tokens consumed by CLI runs, fleet-wide (type: input, output, cache_read, cache_creation)',
    ['provider', 'model', 'key', 'type'],
    (f) => f.counters.cli_bridge_tokens_total,
  );
  fleetCounter(
    'cli_bridge_cost_usd_total',
    'Cost of CLI runs in US dollars, fleet-wide',
    ['provider', 'model', 'key'],
    (f) => f.counters.cli_bridge_cost_micros.map((s) => ({ labels: s.labels, value: s.value / 1e6 })),
  );
  fleetCounter(
    'cli_bridge_jobs_total',
    'Generate jobs ended, fleet-wide (status: completed, failed, cancelled)',
    ['provider', 'model', 'key', 'status'],
    (f) => f.counters.cli_bridge_jobs_total,
  );
  const histogramHelp: Record<keyof typeof FLEET_HISTOGRAMS, [string, string[]]> = {
    cli_bridge_queue_wait_seconds: [
      'Time from submission to the start of a job’s run, fleet-wide',
      ['provider'],
    ],
    cli_bridge_cli_run_seconds: ['Wall time of one CLI run, fleet-wide', ['provider', 'model']],
    cli_bridge_time_to_first_token_seconds: [
      'Time from submission to the first streamed text of a run, fleet-wide (streamed runs)',
      ['provider', 'model'],
    ],
  };
  for (const [name, [help, labels]] of Object.entries(histogramHelp)) {
    const n = name as keyof typeof FLEET_HISTOGRAMS;
    register.registerMetric(
      new SnapshotHistogram(
        { name, help },
        labels,
        FLEET_HISTOGRAMS[n],
        () => snap?.fleet.histograms[n] ?? [],
      ),
    );
  }

  new Gauge({
    name: 'cli_bridge_queue_jobs',
    help: 'Jobs in each provider queue by state (waiting, active, delayed)',
    labelNames: ['provider', 'state'],
    registers,
    collect() {
      this.reset();
      if (!snap) return;
      for (const p of PROVIDERS)
        for (const state of QUEUE_STATES) this.set({ provider: p, state }, snap.queues[p][state] ?? 0);
    },
  });
  new Gauge({
    name: 'cli_bridge_workers',
    help: 'Live workers serving each provider (heartbeat within its TTL)',
    labelNames: ['provider'],
    registers,
    collect() {
      this.reset();
      if (snap) for (const p of PROVIDERS) this.set({ provider: p }, snap.workers[p]);
    },
  });
  new Gauge({
    name: 'cli_bridge_account_held',
    help: '1 while an account’s subscription usage limit holds its provider’s queue',
    labelNames: ['provider', 'account'],
    registers,
    collect() {
      this.reset();
      for (const a of snap?.accounts ?? [])
        this.set({ provider: a.provider, account: a.name }, a.hold ? 1 : 0);
    },
  });
  new Gauge({
    name: 'cli_bridge_account_hold_reset_timestamp_seconds',
    help: 'When a held account’s usage limit resets (Unix time, s; 0 when not held)',
    labelNames: ['provider', 'account'],
    registers,
    collect() {
      this.reset();
      for (const a of snap?.accounts ?? [])
        this.set(
          { provider: a.provider, account: a.name },
          a.hold ? Math.round(Date.parse(a.hold.until) / 1000) : 0,
        );
    },
  });
  new Gauge({
    name: 'cli_bridge_account_credit_spent_usd',
    help: 'What a Claude account’s CLI runs cost this UTC month (drawn from its Agent SDK credit)',
    labelNames: ['provider', 'account'],
    registers,
    collect() {
      this.reset();
      for (const a of snap?.accounts ?? [])
        if (a.credit) this.set({ provider: a.provider, account: a.name }, a.credit.spent_usd);
    },
  });
  new Gauge({
    name: 'cli_bridge_account_credit_usd',
    help: 'A Claude account’s configured monthly Agent SDK credit (only for accounts that have one)',
    labelNames: ['provider', 'account'],
    registers,
    collect() {
      this.reset();
      for (const a of snap?.accounts ?? [])
        if (a.credit?.credit_usd != null)
          this.set({ provider: a.provider, account: a.name }, a.credit.credit_usd);
    },
  });

  /** Reads the fleet-wide state once for this scrape (undefined while Redis is down). */
  async function refresh(): Promise<void> {
    try {
      const [fleet, counts, workers, accounts] = await Promise.all([
        readFleetMetrics(deps.redis, deps.keys),
        Promise.all(PROVIDERS.map((p) => deps.queues[p].getJobCounts(...QUEUE_STATES))),
        deps.registry.liveProviders(),
        Promise.all(PROVIDERS.map(async (p) => (await deps.accounts(p)).map((a) => ({ ...a, provider: p })))),
      ]);
      const queues = Object.fromEntries(PROVIDERS.map((p, i) => [p, counts[i]!])) as Snapshot['queues'];
      snap = { fleet, queues, workers, accounts: accounts.flat() };
    } catch {
      snap = undefined;
    }
  }

  return {
    contentType: register.contentType,
    /** The Prometheus text of this process and the fleet. */
    async render(): Promise<string> {
      await refresh();
      return register.metrics();
    },
    observeRequest(o: RequestObservation): void {
      requests.inc({
        route: o.route,
        method: o.method,
        provider: o.provider,
        model: o.model,
        status: o.status,
        key: o.key,
      });
      duration.observe(
        { route: o.route, method: o.method, provider: o.provider, status: o.status },
        o.seconds,
      );
    },
  };
}

export type MetricsService = ReturnType<typeof createMetricsService>;
