/**
 * The jobs of one state (filtered by provider and key), newest first, with wait and run times;
 * retry or remove a failed job, cancel a queued or running one. State, filters and page (cursor)
 * live in the URL.
 */
import { useState } from 'preact/hooks';
import { api, get, query } from '../api.js';
import { Empty, ErrorNote, Loading, ProviderSelect } from '../components/bits.js';
import { Confirm } from '../components/confirm.js';
import { Dialog } from '../components/dialog.js';
import { fmtMs, fmtTime } from '../format.js';
import type { JobState, JobSummary } from '../types.js';
import { JOB_STATES } from '../types.js';
import { usePoll } from '../use-poll.js';
import { href, replaceRoute, type Route } from '../use-route.js';

export function JobsList({ route, onChange }: { route: Route; onChange: () => void }) {
  const f = {
    state: (route.params.get('state') ?? 'waiting') as JobState,
    provider: route.params.get('provider') ?? '',
    key: route.params.get('key') ?? '',
    cursor: route.params.get('cursor') ?? '',
  };
  // Cursors of the pages before this one, so "Newer" can go back.
  const back = route.params.get('back')?.split(',').filter(Boolean) ?? [];
  const jobs = usePoll(
    () =>
      get<{ jobs: JobSummary[]; next_cursor: string | null }>(
        `/admin/jobs${query({ state: f.state, provider: f.provider, key: f.key, cursor: f.cursor, limit: 25 })}`,
      ),
    [f.state, f.provider, f.key, f.cursor],
  );
  const [confirm, setConfirm] = useState<{ job: JobSummary; action: 'retry' | 'remove' } | null>(null);
  const [error, setError] = useState<Error>();
  const set = (change: Record<string, string>) =>
    replaceRoute('queues', { state: f.state, provider: f.provider, key: f.key, ...change });
  const run = async () => {
    if (!confirm) return;
    setError(undefined);
    try {
      const path = `/admin/jobs/${encodeURIComponent(confirm.job.id)}`;
      await (confirm.action === 'retry' ? api('POST', `${path}/retry`) : api('DELETE', path));
      setConfirm(null);
      await jobs.reload();
      onChange();
    } catch (err) {
      setError(err as Error);
    }
  };

  return (
    <>
      <h2>Jobs</h2>
      <div class="tabs" role="tablist">
        {JOB_STATES.map((s) => (
          <button type="button" role="tab" aria-selected={s === f.state} onClick={() => set({ state: s })}>
            {s}
          </button>
        ))}
      </div>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <ProviderSelect value={f.provider} onChange={(provider) => set({ provider })} />
        <label>
          Key
          <input
            name="key"
            value={f.key}
            placeholder="key name"
            onChange={(e) => set({ key: e.currentTarget.value })}
          />
        </label>
      </form>
      <ErrorNote error={jobs.error} />
      {!jobs.data ? (
        jobs.error ? null : (
          <Loading />
        )
      ) : jobs.data.jobs.length === 0 ? (
        <Empty>No {f.state} jobs.</Empty>
      ) : (
        <div class="table-wrap">
          <table class="jobs">
            <thead>
              <tr>
                <th>Job</th>
                <th>Provider</th>
                <th>Key</th>
                <th>Model</th>
                <th>Created</th>
                <th>Wait</th>
                <th>Run</th>
                <th>Tries</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {jobs.data.jobs.map((j) => (
                <tr key={j.id} data-job={j.id}>
                  <td>
                    <a href={href(`jobs/${encodeURIComponent(j.id)}`)}>{j.id.slice(0, 12)}</a>
                    {j.error ? <small class="err-text"> {j.error.type}</small> : null}
                  </td>
                  <td>{j.provider}</td>
                  <td>{j.key}</td>
                  <td>{j.model}</td>
                  <td>{fmtTime(j.created_at)}</td>
                  <td>{fmtMs(j.wait_ms)}</td>
                  <td>{fmtMs(j.run_ms)}</td>
                  <td>{j.attempts}</td>
                  <td>
                    <div class="actions">
                      {j.state === 'failed' ? (
                        <button type="button" onClick={() => setConfirm({ job: j, action: 'retry' })}>
                          Retry
                        </button>
                      ) : null}
                      <button
                        type="button"
                        class="danger"
                        onClick={() => setConfirm({ job: j, action: 'remove' })}
                      >
                        {j.state === 'waiting' || j.state === 'active' || j.state === 'delayed'
                          ? 'Cancel'
                          : 'Remove'}
                      </button>
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {jobs.data && (back.length > 0 || f.cursor || jobs.data.next_cursor) ? (
        <nav class="pager" aria-label="Pages">
          <button
            type="button"
            disabled={!f.cursor}
            onClick={() => set({ cursor: back.at(-1) ?? '', back: back.slice(0, -1).join(',') })}
          >
            ← Newer
          </button>
          <button
            type="button"
            disabled={!jobs.data.next_cursor}
            onClick={() => set({ cursor: jobs.data!.next_cursor ?? '', back: [...back, f.cursor].join(',') })}
          >
            Older →
          </button>
        </nav>
      ) : null}
      <Dialog
        open={confirm !== null}
        title={confirm?.action === 'retry' ? 'Retry job' : 'Cancel or remove job'}
        onClose={() => setConfirm(null)}
      >
        {confirm ? (
          <Confirm
            text={
              confirm.action === 'retry'
                ? `Run job ${confirm.job.id} again? It goes through the queue and its key's limits again.`
                : confirm.job.state === 'failed' || confirm.job.state === 'completed'
                  ? `Remove job ${confirm.job.id}?`
                  : `Cancel job ${confirm.job.id}? A running CLI is stopped; usage so far is settled.`
            }
            action={
              confirm.action === 'retry'
                ? 'Retry'
                : confirm.job.state === 'failed' || confirm.job.state === 'completed'
                  ? 'Remove'
                  : 'Cancel job'
            }
            danger={confirm.action === 'remove'}
            error={error}
            onConfirm={() => void run()}
          />
        ) : null}
      </Dialog>
    </>
  );
}
