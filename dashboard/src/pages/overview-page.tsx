/**
 * Overview: keys, requests and spend today and this month, queues per provider (with any hold's
 * countdown), live workers, and 30 days of requests and spend.
 */
import { get } from '../api.js';
import { Badge, Empty, ErrorNote, Loading } from '../components/bits.js';
import { DayChart } from '../components/chart.js';
import { Countdown } from '../components/countdown.js';
import { fmtInt, fmtUsdAxis, fmtUsd } from '../format.js';
import type { KeyView, QueueView, Stats, WorkerView } from '../types.js';
import { usePoll } from '../use-poll.js';
import { href } from '../use-route.js';

export function OverviewPage() {
  const keys = usePoll(() => get<{ keys: KeyView[] }>('/admin/keys'), []);
  const queues = usePoll(() => get<{ queues: QueueView[] }>('/admin/queues'), []);
  const workers = usePoll(() => get<{ workers: WorkerView[] }>('/admin/workers'), []);
  const stats = usePoll(() => get<Stats>('/admin/stats?days=30'), []);

  const k = keys.data?.keys;
  const sum = (pick: (k: KeyView) => number) => (k ? k.reduce((n, key) => n + pick(key), 0) : undefined);
  // Per-day totals include revoked keys' traffic; the live keys' counters are the fallback.
  const days = stats.data?.days;
  const month = new Date().toISOString().slice(0, 7);
  const today = days?.at(-1);
  const thisMonth = days?.filter((d) => d.date.startsWith(month));
  const live = workers.data?.workers.filter((w) => !w.stale).length;

  return (
    <>
      <h1>Overview</h1>
      <ErrorNote error={keys.error} />
      <section class="tiles">
        <Tile label="Keys" value={fmtInt(k?.length)} />
        <Tile
          label="Requests today"
          value={fmtInt(today ? today.requests : sum((x) => x.usage.today.requests))}
        />
        <Tile
          label="Requests this month"
          value={fmtInt(
            thisMonth ? thisMonth.reduce((n, d) => n + d.requests, 0) : sum((x) => x.usage.month.requests),
          )}
        />
        <Tile
          label="Spend today"
          value={fmtUsd(today ? today.cost_usd : sum((x) => x.usage.today.cost_usd))}
        />
        <Tile
          label="Spend this month"
          value={fmtUsd(
            thisMonth ? thisMonth.reduce((n, d) => n + d.cost_usd, 0) : sum((x) => x.usage.month.cost_usd),
          )}
        />
        <Tile label="Live workers" value={fmtInt(live)} />
      </section>

      <h2>Queues</h2>
      <ErrorNote error={queues.error} />
      {queues.data ? (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Provider</th>
                <th>Waiting</th>
                <th>Active</th>
                <th>Failed</th>
                <th>Workers</th>
                <th>State</th>
              </tr>
            </thead>
            <tbody>
              {queues.data.queues.map((q) => (
                <tr key={q.provider}>
                  <td>
                    <a href={href('queues', { provider: q.provider })}>{q.provider}</a>
                  </td>
                  <td>{q.counts.waiting + q.counts.delayed}</td>
                  <td>{q.counts.active}</td>
                  <td>{q.counts.failed}</td>
                  <td>{q.workers}</td>
                  <td>
                    {q.hold ? (
                      <Badge kind="warn">
                        on hold, resets in <Countdown until={q.hold.until} />
                      </Badge>
                    ) : q.paused ? (
                      <Badge kind="warn">paused</Badge>
                    ) : (
                      <Badge kind="ok">running</Badge>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : queues.error ? null : (
        <Loading />
      )}

      <h2>Last 30 days</h2>
      <ErrorNote error={stats.error} />
      {days ? (
        days.every((d) => d.requests === 0) ? (
          <Empty>No requests in the last 30 days.</Empty>
        ) : null
      ) : null}
      {days ? (
        <DayChart
          title="Requests and spend per day"
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
      ) : stats.error ? null : (
        <Loading />
      )}
    </>
  );
}

function Tile({ label, value }: { label: string; value: string }) {
  return (
    <div class="tile">
      <span class="tile-label">{label}</span>
      <span class="tile-value">{value}</span>
    </div>
  );
}
