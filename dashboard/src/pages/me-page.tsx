/**
 * A key holder's own page (/dashboard/me): log in with the key, then see its usage against its
 * limits and its own recent requests, from GET /me, which shows nothing of other keys.
 */
import { api, get } from '../api.js';
import { useSession } from '../use-session.js';
import { ErrorNote, Loading, UsageBar } from '../components/bits.js';
import { LoginForm } from '../components/login-form.js';
import { LogsTable } from '../components/logs-table.js';
import { fmtInt, fmtTime, fmtUsd } from '../format.js';
import type { MeView } from '../types.js';
import { usePoll } from '../use-poll.js';

export function MePage() {
  const [state, setState] = useSession('/me/session');
  if (state === 'unknown') return null;
  if (state === 'out')
    return (
      <LoginForm
        endpoint="/me/session"
        label="API key"
        title="Your cli-bridge usage"
        onDone={() => setState('in')}
      />
    );
  return (
    <MeView
      onLogout={async () => {
        await api('DELETE', '/me/session').catch(() => undefined);
        setState('out');
      }}
    />
  );
}

function MeView({ onLogout }: { onLogout: () => void }) {
  const me = usePoll(() => get<MeView>('/me?limit=50'), []);
  const m = me.data;
  return (
    <>
      <header class="top">
        <span class="brand">cli-bridge</span>
        <nav>
          <span aria-current="page">{m ? `Key: ${m.name}` : 'Your key'}</span>
        </nav>
        <button type="button" class="link" onClick={onLogout}>
          Log out
        </button>
      </header>
      <main>
        <h1>Usage{m ? ` of ${m.name}` : ''}</h1>
        <ErrorNote error={me.error} />
        {m ? (
          <>
            <section class="card">
              <p>
                Created {fmtTime(m.created_at)} · providers:{' '}
                {m.limits.allowedProviders.length ? m.limits.allowedProviders.join(', ') : 'all'}
              </p>
              <UsageBar
                label="Requests today"
                used={m.usage.today.requests}
                limit={m.limits.maxRequestsPerDay}
                format={fmtInt}
              />
              <UsageBar
                label="Requests this month"
                used={m.usage.month.requests}
                limit={m.limits.maxRequestsPerMonth}
                format={fmtInt}
              />
              <UsageBar
                label="Tokens this month"
                used={m.usage.month.tokens}
                limit={m.limits.maxTokensPerMonth}
                format={fmtInt}
              />
              <UsageBar
                label="Spend today"
                used={m.usage.today.cost_usd}
                limit={m.limits.maxCostPerDay}
                format={fmtUsd}
              />
              <UsageBar
                label="Spend this month"
                used={m.usage.month.cost_usd}
                limit={m.limits.maxCostPerMonth}
                format={fmtUsd}
              />
              <UsageBar label="Running" used={m.active} limit={m.limits.maxConcurrent} format={fmtInt} />
            </section>
            <h2>Your recent requests</h2>
            <LogsTable logs={m.logs} showKey={false} />
          </>
        ) : me.error ? null : (
          <Loading />
        )}
      </main>
    </>
  );
}
