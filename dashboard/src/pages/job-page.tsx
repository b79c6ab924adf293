/** One job: its summary, error, usage and the start of its result. */
import { get } from '../api.js';
import { ErrorNote, Loading } from '../components/bits.js';
import { fmtMs, fmtTime, fmtUsd } from '../format.js';
import type { JobDetail } from '../types.js';
import { usePoll } from '../use-poll.js';
import { href } from '../use-route.js';

export function JobPage({ id }: { id: string }) {
  const job = usePoll(() => get<JobDetail>(`/admin/jobs/${encodeURIComponent(id)}`), [id]);
  const j = job.data;
  return (
    <>
      <p>
        <a href={href('queues')}>← Queues &amp; jobs</a>
      </p>
      <h1>Job {id}</h1>
      <ErrorNote error={job.error} />
      {j ? (
        <section class="card">
          <dl class="detail">
            <dt>State</dt>
            <dd>{j.state}</dd>
            <dt>Provider / model</dt>
            <dd>
              {j.provider} / {j.model}
            </dd>
            <dt>Key</dt>
            <dd>{j.key === null ? '—' : <a href={href(`keys/${encodeURIComponent(j.key)}`)}>{j.key}</a>}</dd>
            <dt>Created</dt>
            <dd>{fmtTime(j.created_at)}</dd>
            <dt>Started</dt>
            <dd>{fmtTime(j.started_at)}</dd>
            <dt>Finished</dt>
            <dd>{fmtTime(j.finished_at)}</dd>
            <dt>Wait / run</dt>
            <dd>
              {fmtMs(j.wait_ms)} / {fmtMs(j.run_ms)}
            </dd>
            <dt>Attempts</dt>
            <dd>{j.attempts}</dd>
            {j.error ? (
              <>
                <dt>Error</dt>
                <dd class="err-text">
                  {j.error.type}: {j.error.message}
                </dd>
              </>
            ) : null}
            {j.usage ? (
              <>
                <dt>Usage</dt>
                <dd>
                  {Object.entries(j.usage)
                    .filter(([k]) => k !== 'cost_usd')
                    .map(([k, v]) => `${k} ${v}`)
                    .join(', ')}
                  {j.usage.cost_usd !== undefined ? ` · ${fmtUsd(j.usage.cost_usd)}` : ''}
                </dd>
              </>
            ) : null}
          </dl>
          {j.result_preview ? (
            <>
              <h2>Result (start)</h2>
              <pre class="preview">{j.result_preview}</pre>
            </>
          ) : null}
        </section>
      ) : job.error ? null : (
        <Loading />
      )}
    </>
  );
}
