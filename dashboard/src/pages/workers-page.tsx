/** Workers: the registry (host, pid, providers, concurrency, running jobs, CLI versions, beat). */
import { get } from '../api.js';
import { Badge, Empty, ErrorNote, Loading } from '../components/bits.js';
import { fmtAgo, fmtTime } from '../format.js';
import type { WorkerView } from '../types.js';
import { usePoll } from '../use-poll.js';
import { href } from '../use-route.js';

const show = (v: unknown) =>
  v && typeof v === 'object'
    ? Object.entries(v)
        .map(([k, x]) => `${k}: ${x ?? '?'}`)
        .join(', ') || '—'
    : String(v ?? '—');

export function WorkersPage() {
  const workers = usePoll(() => get<{ workers: WorkerView[] }>('/admin/workers'), []);
  return (
    <>
      <h1>Workers</h1>
      <ErrorNote error={workers.error} />
      {!workers.data ? (
        workers.error ? null : (
          <Loading />
        )
      ) : workers.data.workers.length === 0 ? (
        <Empty>No worker is running: start one (npm run start:worker) for jobs to run.</Empty>
      ) : (
        <div class="table-wrap">
          <table class="workers">
            <thead>
              <tr>
                <th>Worker</th>
                <th>Host / pid</th>
                <th>Providers</th>
                <th>Concurrency</th>
                <th>Running</th>
                <th>CLI versions</th>
                <th>Started</th>
                <th>Last beat</th>
              </tr>
            </thead>
            <tbody>
              {workers.data.workers.map((w) => (
                <tr key={w.id} data-worker={w.id} class={w.stale ? 'stale' : ''}>
                  <td>
                    {w.id} {w.stale ? <Badge kind="bad">stale</Badge> : <Badge kind="ok">live</Badge>}
                  </td>
                  <td>
                    {w.host} / {w.pid}
                  </td>
                  <td>{w.providers.join(', ')}</td>
                  <td>{show(w.concurrency)}</td>
                  <td>
                    {w.active}
                    {w.active_jobs.map((id) => (
                      <>
                        {' '}
                        <a href={href(`jobs/${encodeURIComponent(id)}`)}>{id.slice(0, 8)}</a>
                      </>
                    ))}
                  </td>
                  <td>{show(w.cli_versions)}</td>
                  <td>{fmtTime(w.started_at)}</td>
                  <td>{fmtAgo(w.last_beat)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
