/**
 * This process's request metrics are counted in plain maps and handed to prom-client at scrape
 * time (api/src/services/metrics.service.ts): what /metrics renders for them must be exactly what
 * prom-client's own Counter and Histogram render for the same observations. No Redis: the stub
 * fails every read, so only this process's series are rendered.
 */
import { describe, expect, it } from 'vitest';
import { redisKeys } from '@cli-bridge/shared';
import { Counter, Histogram, Registry } from 'prom-client';
import {
  createMetricsService,
  REQUEST_BUCKETS,
  type RequestObservation,
} from '../../api/src/services/metrics.service.js';

const failing = () => Promise.reject(new Error('no Redis in a unit test'));

/**
 * The lines of `metric` (its HELP, TYPE and samples) in a Prometheus text, each sample's labels
 * sorted: their order means nothing to Prometheus (prom-client puts `le` first, the snapshot
 * histogram last).
 */
const linesOf = (text: string, metric: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith(`${metric}`) || l.includes(` ${metric} `))
    .map((l) =>
      l.replace(
        /\{(.*)\}/,
        (_, labels: string) =>
          `{${labels
            .split(/,(?=\w+=")/)
            .sort()
            .join(',')}}`,
      ),
    )
    .sort();

describe('request metrics', () => {
  it('render as prom-client renders the same observations', async () => {
    const service = createMetricsService({
      redis: { hgetall: failing } as never,
      keys: redisKeys('unit'),
      queues: { claude: { getJobCounts: failing }, codex: { getJobCounts: failing } } as never,
      registry: { liveProviders: failing } as never,
      accounts: failing,
    });
    const reference = new Registry();
    const requests = new Counter({
      name: 'cli_bridge_requests_total',
      help: 'HTTP requests answered by this API process',
      labelNames: ['route', 'method', 'provider', 'model', 'status', 'key'],
      registers: [reference],
    });
    const duration = new Histogram({
      name: 'cli_bridge_request_duration_seconds',
      help: 'HTTP request duration in this API process, to the end of the answer (streams included)',
      labelNames: ['route', 'method', 'provider', 'status'],
      buckets: [...REQUEST_BUCKETS],
      registers: [reference],
    });
    const base = { route: '/jobs', method: 'POST', provider: 'claude', model: 'sonnet', key: 'k1' };
    const seen: RequestObservation[] = [
      { ...base, status: '202', seconds: 0.003 },
      { ...base, status: '202', seconds: 0.01 }, // on a bound: counted in that bucket
      { ...base, status: '202', seconds: 0.4 },
      { ...base, status: '202', key: 'k2', seconds: 700 }, // past the last bound: +Inf only
      { ...base, status: '429', seconds: 0.002 },
      { route: 'unknown', method: 'GET', provider: '', model: '', key: '', status: '404', seconds: 0.001 },
    ];
    for (const o of seen) {
      service.observeRequest(o);
      // The label order observeRequest always used (prom-client renders labels in given order).
      const { route, method, provider, model, status, key, seconds } = o;
      requests.inc({ route, method, provider, model, status, key });
      duration.observe({ route: o.route, method: o.method, provider: o.provider, status: o.status }, seconds);
    }
    const ours = await service.render();
    const theirs = await reference.metrics();
    for (const metric of ['cli_bridge_requests_total', 'cli_bridge_request_duration_seconds']) {
      const expected = linesOf(theirs, metric);
      expect(expected.length).toBeGreaterThan(3);
      expect(linesOf(ours, metric)).toEqual(expected);
    }
  });
});
