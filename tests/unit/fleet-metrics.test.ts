/**
 * Fleet metric increments (what settlement adds per run) and their read-back into cumulative
 * histograms, without Redis: `readFleetMetrics` is given a stand-in holding the summed hash.
 */
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import {
  FLEET_HISTOGRAMS,
  fleetIncrements,
  readFleetMetrics,
  redisKeys,
  type FleetObservation,
} from '@cli-bridge/shared';

const data = { provider: 'claude' as const, model: 'sonnet', keyName: 'web' };

/** Sums increments as HINCRBY would, and answers HGETALL with the result. */
function hashOf(...runs: FleetObservation[]): Redis {
  const hash: Record<string, string> = {};
  for (const run of runs) {
    const inc = fleetIncrements(run);
    for (let i = 0; i < inc.length; i += 2) {
      const f = String(inc[i]);
      hash[f] = String(Number(hash[f] ?? 0) + Number(inc[i + 1]));
    }
  }
  return { hgetall: async () => hash } as unknown as Redis;
}

describe('fleet metrics', () => {
  it('counts tokens by type and cost per key; jobs and queue wait only when the job ends', async () => {
    const usage = {
      input_tokens: 100,
      output_tokens: 20,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 5,
    };
    const m = await readFleetMetrics(
      hashOf(
        { data, usage, costMicros: 1500, runMs: 900 }, // a retried run
        {
          data,
          usage,
          costMicros: 2500,
          runMs: 1200,
          firstTokenMs: 700,
          status: 'completed',
          queueWaitMs: 40,
        },
      ),
      redisKeys('p'),
    );
    const k = { provider: 'claude', model: 'sonnet', key: 'web' };
    expect(m.counters.cli_bridge_tokens_total).toEqual(
      expect.arrayContaining([
        { labels: { ...k, type: 'input' }, value: 200 },
        { labels: { ...k, type: 'output' }, value: 40 },
        { labels: { ...k, type: 'cache_read' }, value: 10 },
      ]),
    );
    // A zero is not written at all.
    expect(m.counters.cli_bridge_tokens_total.some((s) => s.labels.type === 'cache_creation')).toBe(false);
    expect(m.counters.cli_bridge_cost_micros).toEqual([{ labels: k, value: 4000 }]);
    expect(m.counters.cli_bridge_jobs_total).toEqual([{ labels: { ...k, status: 'completed' }, value: 1 }]);
    const [run] = m.histograms.cli_bridge_cli_run_seconds;
    expect(run!.labels).toEqual({ provider: 'claude', model: 'sonnet' });
    expect(run!.count).toBe(2);
    expect(run!.sum).toBeCloseTo(2.1);
    expect(m.histograms.cli_bridge_queue_wait_seconds[0]).toMatchObject({ count: 1, sum: 0.04 });
    expect(m.histograms.cli_bridge_time_to_first_token_seconds[0]).toMatchObject({ count: 1, sum: 0.7 });
  });

  it('puts a value in the first bucket whose bound is at least it; cumulative, ending at +Inf', async () => {
    const bounds = FLEET_HISTOGRAMS.cli_bridge_cli_run_seconds;
    const m = await readFleetMetrics(
      hashOf(
        { data, runMs: bounds[0] * 1000 }, // exactly on the first bound
        { data, runMs: bounds[1] * 1000 + 1 }, // just past the second
        { data, runMs: 10_000_000 }, // past every bound
      ),
      redisKeys('p'),
    );
    const buckets = m.histograms.cli_bridge_cli_run_seconds[0]!.buckets;
    expect(buckets.map((b) => b.le)).toEqual([...bounds.map(String), '+Inf']);
    expect(buckets[0]!.count).toBe(1);
    expect(buckets[1]!.count).toBe(1);
    expect(buckets[2]!.count).toBe(2);
    expect(buckets.at(-2)!.count).toBe(2);
    expect(buckets.at(-1)!.count).toBe(3);
  });
});
