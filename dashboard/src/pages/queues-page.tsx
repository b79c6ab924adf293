/** Queues & jobs: per-provider counts with pause/resume and clear-hold, then the job list. */
import { useState } from 'preact/hooks';
import { api, get } from '../api.js';
import { Badge, ErrorNote, Loading } from '../components/bits.js';
import { Countdown } from '../components/countdown.js';
import { fmtTime, fmtUsd } from '../format.js';
import type { QueueView } from '../types.js';
import { usePoll } from '../use-poll.js';
import type { Route } from '../use-route.js';
import { JobsList } from './jobs-list.js';

export function QueuesPage({ route }: { route: Route }) {
  const queues = usePoll(() => get<{ queues: QueueView[] }>('/admin/queues'), []);
  const [error, setError] = useState<Error>();
  const act = async (fn: () => Promise<unknown>) => {
    setError(undefined);
    try {
      await fn();
      await queues.reload();
    } catch (err) {
      setError(err as Error);
    }
  };

  return (
    <>
      <h1>Queues &amp; jobs</h1>
      <ErrorNote error={queues.error ?? error} />
      {queues.data ? (
        <section class="queue-cards">
          {queues.data.queues.map((q) => {
            const path = `/admin/queues/${q.provider}`;
            return (
              <article class="card" data-provider={q.provider} key={q.provider}>
                <header>
                  <h2>{q.provider}</h2>
                  {q.paused ? <Badge kind="warn">paused</Badge> : <Badge kind="ok">running</Badge>}
                </header>
                <dl class="counts">
                  {(['waiting', 'active', 'delayed', 'failed', 'completed'] as const).map((s) => (
                    <div>
                      <dt>{s}</dt>
                      <dd>{q.counts[s]}</dd>
                    </div>
                  ))}
                  <div>
                    <dt>workers</dt>
                    <dd>{q.workers}</dd>
                  </div>
                </dl>
                {q.hold ? (
                  <p class="hold">
                    On hold ({q.hold.reason}); resets in <Countdown until={q.hold.until} />
                  </p>
                ) : null}
                {q.accounts.length ? (
                  <ul class="accounts">
                    {q.accounts.map((a) => (
                      <li data-account={a.name} key={a.name}>
                        <strong>{a.name}</strong>{' '}
                        {a.hold ? (
                          <>
                            <Badge kind="warn">held</Badge> {a.hold.reason}, resets in{' '}
                            <Countdown until={a.hold.until} />{' '}
                            <button
                              type="button"
                              onClick={() =>
                                act(() =>
                                  api('POST', `${path}/clear-hold?account=${encodeURIComponent(a.name)}`),
                                )
                              }
                            >
                              Clear
                            </button>
                          </>
                        ) : (
                          <Badge kind="ok">serving</Badge>
                        )}
                        {a.credit ? (
                          <span class="credit">
                            {' '}
                            · {fmtUsd(a.credit.spent_usd)} spent in {a.credit.month}
                            {a.credit.credit_usd !== null ? ` of ${fmtUsd(a.credit.credit_usd)}` : ''}
                            {a.credit.projected_exhaustion_at
                              ? `, runs out ${fmtTime(a.credit.projected_exhaustion_at)}`
                              : ''}
                          </span>
                        ) : null}
                      </li>
                    ))}
                  </ul>
                ) : null}
                <div class="actions">
                  {q.paused ? (
                    <button type="button" onClick={() => act(() => api('POST', `${path}/resume`))}>
                      Resume
                    </button>
                  ) : (
                    <button type="button" onClick={() => act(() => api('POST', `${path}/pause`))}>
                      Pause
                    </button>
                  )}
                  {q.hold ? (
                    <button type="button" onClick={() => act(() => api('POST', `${path}/clear-hold`))}>
                      Clear hold
                    </button>
                  ) : null}
                </div>
              </article>
            );
          })}
        </section>
      ) : queues.error ? null : (
        <Loading />
      )}
      <JobsList route={route} onChange={() => void queues.reload()} />
    </>
  );
}
