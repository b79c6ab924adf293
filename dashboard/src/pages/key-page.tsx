/** One key: its limits and usage (today, month, since creation), daily chart, recent requests. */
import { get } from '../api.js';
import { ErrorNote, Loading } from '../components/bits.js';
import { DayChart } from '../components/chart.js';
import { LogsTable } from '../components/logs-table.js';
import { fmtInt, fmtUsdAxis, fmtTime, fmtUsd } from '../format.js';
import type { KeyView, LogEntry, Stats } from '../types.js';
import { usePoll } from '../use-poll.js';
import { href } from '../use-route.js';
import { KeyBars } from '../components/key-bars.js';

export function KeyPage({ name }: { name: string }) {
  const path = `/admin/keys/${encodeURIComponent(name)}`;
  const key = usePoll(() => get<KeyView>(path), [name]);
  const logs = usePoll(
    () => get<{ logs: LogEntry[] }>(`/admin/logs?key=${encodeURIComponent(name)}&limit=20`),
    [name],
  );
  const stats = usePoll(() => get<Stats>('/admin/stats?days=30'), []);
  const days = stats.data
    ? (stats.data.keys[name] ?? stats.data.days.map((d) => ({ ...d, requests: 0, cost_usd: 0 })))
    : undefined;
  const k = key.data;

  return (
    <>
      <p>
        <a href={href('keys')}>← Keys</a>
      </p>
      <h1>Key: {name}</h1>
      <ErrorNote error={key.error} />
      {k ? (
        <section class="card">
          <p>
            Created {fmtTime(k.created_at)} · providers:{' '}
            {k.allowedProviders.length ? k.allowedProviders.join(', ') : 'all'}
            {k.maxRequestsPerMinute ? ` · ${k.maxRequestsPerMinute} requests/minute` : ''}
          </p>
          <KeyBars k={k} />
          {k.usage.total ? (
            <p class="hint">
              Since creation (or the last reset): {fmtInt(k.usage.total.requests)} requests,{' '}
              {fmtInt(k.usage.total.tokens)} tokens, {fmtUsd(k.usage.total.cost_usd)}.
            </p>
          ) : null}
        </section>
      ) : key.error ? null : (
        <Loading />
      )}
      <h2>Daily usage</h2>
      <ErrorNote error={stats.error} />
      {days ? (
        <DayChart
          title={`Requests and spend per day: ${name}`}
          days={days.map((d) => d.date)}
          series={[
            { label: 'Requests', values: days.map((d) => d.requests), stroke: '#2563eb', format: fmtInt },
            {
              label: 'Spend',
              values: days.map((d) => d.cost_usd),
              stroke: '#d97706',
              format: fmtUsd,
              axis: fmtUsdAxis,
            },
          ]}
        />
      ) : null}
      <h2>Recent requests</h2>
      <ErrorNote error={logs.error} />
      {logs.data ? <LogsTable logs={logs.data.logs} showKey={false} /> : null}
      <p>
        <a href={href('logs', { key: name })}>All of its logs →</a>
      </p>
    </>
  );
}
