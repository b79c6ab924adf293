/**
 * Fleet-wide metrics: what workers on any box produce (tokens, cost, jobs, queue wait, CLI run
 * time, time to first token), kept in ONE Redis hash so that every API instance's `GET /metrics`
 * shows the whole fleet. Settlement adds each run's increments in its own atomic script
 * (`fleetIncrements`), so a job settled twice is not counted twice; the API reads the hash at
 * scrape time (`readFleetMetrics`).
 *
 * A field is `JSON.stringify([series, labels])`; its value an integer count. Histograms keep
 * per-bucket counts (not cumulative) plus `_count` and `_sum` (ms); money is micro-dollars.
 * Label values are bounded: provider, model (checked against the allowlist at admission), key
 * NAME (never a raw key or an id), status, token type, bucket bound.
 */
import type { Redis } from 'ioredis';
import type { GenerateJobData } from '../jobs.js';
import type { RedisKeys } from '../redis-keys.js';

/** Upper bounds (s) of each fleet histogram's buckets, besides +Inf. */
export const FLEET_HISTOGRAMS = {
  cli_bridge_queue_wait_seconds: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900],
  cli_bridge_cli_run_seconds: [0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 180, 300, 600],
  cli_bridge_time_to_first_token_seconds: [0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60],
} as const;
export type FleetHistogramName = keyof typeof FLEET_HISTOGRAMS;

/** Fleet counters as stored (the cost in micro-dollars; exposed as `cli_bridge_cost_usd_total`). */
export type FleetCounterName = 'cli_bridge_tokens_total' | 'cli_bridge_cost_micros' | 'cli_bridge_jobs_total';

export type Labels = Record<string, string>;

/** What one settlement call adds. */
export interface FleetObservation {
  data: Pick<GenerateJobData, 'provider' | 'model' | 'keyName'>;
  usage?: {
    input_tokens: number;
    output_tokens: number;
    cache_creation_input_tokens: number;
    cache_read_input_tokens: number;
  };
  costMicros?: number;
  /** Wall time of the run (ms). */
  runMs?: number;
  /** From submission to the run's first text delta (ms; streamed runs). */
  firstTokenMs?: number;
  /** Final calls: the job's outcome and its wait in the queue (ms). */
  status?: string;
  queueWaitMs?: number;
}

const TOKEN_TYPES = [
  ['input', 'input_tokens'],
  ['output', 'output_tokens'],
  ['cache_creation', 'cache_creation_input_tokens'],
  ['cache_read', 'cache_read_input_tokens'],
] as const;

const field = (series: string, labels: Labels) => JSON.stringify([series, labels]);

/** The le label of the bucket `seconds` falls into. */
function bucketOf(name: FleetHistogramName, seconds: number): string {
  const bound = FLEET_HISTOGRAMS[name].find((b) => seconds <= b);
  return bound === undefined ? '+Inf' : String(bound);
}

/** Flat `[field, increment, ...]` for settlement's HINCRBY loop. */
export function fleetIncrements(o: FleetObservation): (string | number)[] {
  const base = { provider: o.data.provider, model: o.data.model };
  const byKey = { ...base, key: o.data.keyName };
  const out: (string | number)[] = [];
  const add = (series: string, labels: Labels, n: number) => {
    if (n > 0) out.push(field(series, labels), Math.round(n));
  };
  const observe = (name: FleetHistogramName, labels: Labels, ms: number | undefined) => {
    if (ms === undefined || !Number.isFinite(ms)) return;
    const v = Math.max(0, ms);
    out.push(field(`${name}_bucket`, { ...labels, le: bucketOf(name, v / 1000) }), 1);
    out.push(field(`${name}_count`, labels), 1);
    add(`${name}_sum`, labels, v);
  };
  for (const [type, f] of TOKEN_TYPES) add('cli_bridge_tokens_total', { ...byKey, type }, o.usage?.[f] ?? 0);
  add('cli_bridge_cost_micros', byKey, o.costMicros ?? 0);
  observe('cli_bridge_cli_run_seconds', base, o.runMs);
  observe('cli_bridge_time_to_first_token_seconds', base, o.firstTokenMs);
  if (o.status !== undefined) {
    add('cli_bridge_jobs_total', { ...byKey, status: o.status }, 1);
    observe('cli_bridge_queue_wait_seconds', { provider: o.data.provider }, o.queueWaitMs);
  }
  return out;
}

export interface FleetSample {
  labels: Labels;
  value: number;
}

export interface FleetHistogramSample {
  labels: Labels;
  /** Cumulative counts per bound, in order, ending with +Inf. */
  buckets: { le: string; count: number }[];
  count: number;
  /** Seconds. */
  sum: number;
}

export interface FleetMetrics {
  counters: Record<FleetCounterName, FleetSample[]>;
  histograms: Record<FleetHistogramName, FleetHistogramSample[]>;
}

/** Reads the fleet hash (one HGETALL) into counters and cumulative histograms. */
export async function readFleetMetrics(redis: Redis, keys: RedisKeys): Promise<FleetMetrics> {
  const raw = await redis.hgetall(keys.fleetMetrics);
  const out: FleetMetrics = {
    counters: { cli_bridge_tokens_total: [], cli_bridge_cost_micros: [], cli_bridge_jobs_total: [] },
    histograms: {
      cli_bridge_queue_wait_seconds: [],
      cli_bridge_cli_run_seconds: [],
      cli_bridge_time_to_first_token_seconds: [],
    },
  };
  const hist = new Map<
    string,
    { name: FleetHistogramName; labels: Labels; per: Map<string, number> } & FleetHistogramSample
  >();
  const histOf = (name: FleetHistogramName, labels: Labels) => {
    const id = field(name, labels);
    let h = hist.get(id);
    if (!h) hist.set(id, (h = { name, labels, per: new Map(), buckets: [], count: 0, sum: 0 }));
    return h;
  };
  for (const [f, v] of Object.entries(raw)) {
    let series: string;
    let labels: Labels;
    try {
      [series, labels] = JSON.parse(f) as [string, Labels];
    } catch {
      continue;
    }
    const value = Number(v);
    if (series in out.counters) {
      out.counters[series as FleetCounterName].push({ labels, value });
      continue;
    }
    const m = /^(.*)_(bucket|count|sum)$/.exec(series);
    if (!m || !(m[1]! in FLEET_HISTOGRAMS)) continue;
    const name = m[1] as FleetHistogramName;
    if (m[2] === 'bucket') {
      const { le, ...rest } = labels;
      histOf(name, rest).per.set(String(le), value);
    } else if (m[2] === 'count') histOf(name, labels).count = value;
    else histOf(name, labels).sum = value / 1000;
  }
  for (const h of hist.values()) {
    let acc = 0;
    for (const le of [...FLEET_HISTOGRAMS[h.name].map(String), '+Inf']) {
      acc += h.per.get(le) ?? 0;
      h.buckets.push({ le, count: acc });
    }
    out.histograms[h.name].push({ labels: h.labels, buckets: h.buckets, count: h.count, sum: h.sum });
  }
  return out;
}
