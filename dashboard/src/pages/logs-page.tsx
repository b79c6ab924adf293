/**
 * Logs: the request log filtered by key, status, provider and model, a page at a time. The
 * bridge's log endpoint filters by key and returns up to 500 entries; the other filters and the
 * paging apply to those, here. Filters and page live in the URL.
 */
import { get, query } from '../api.js';
import { ErrorNote, Loading } from '../components/bits.js';
import { LogsTable } from '../components/logs-table.js';
import type { KeyView, LogEntry } from '../types.js';
import { PROVIDERS } from '../types.js';
import { usePoll } from '../use-poll.js';
import { replaceRoute, type Route } from '../use-route.js';

const PAGE = 25;
const FETCHED = 500;

export function LogsPage({ route }: { route: Route }) {
  const f = {
    key: route.params.get('key') ?? '',
    status: route.params.get('status') ?? '',
    provider: route.params.get('provider') ?? '',
    model: route.params.get('model') ?? '',
  };
  const page = Math.max(1, Number(route.params.get('page') ?? 1) || 1);
  const keys = usePoll(() => get<{ keys: KeyView[] }>('/admin/keys'), [], 60_000);
  const logs = usePoll(
    () => get<{ logs: LogEntry[] }>(`/admin/logs${query({ key: f.key, limit: FETCHED })}`),
    [f.key],
  );
  const set = (change: Record<string, string | number>) =>
    replaceRoute('logs', { ...f, page, ...change, ...('page' in change ? {} : { page: 1 }) });

  const model = f.model.toLowerCase();
  const shown = (logs.data?.logs ?? []).filter(
    (l) =>
      (!f.status || l.status === f.status) &&
      (!f.provider || l.provider === f.provider) &&
      (!model || l.model.toLowerCase().includes(model)),
  );
  const pages = Math.max(1, Math.ceil(shown.length / PAGE));
  const current = Math.min(page, pages);

  return (
    <>
      <h1>Logs</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Key
          <select name="key" value={f.key} onChange={(e) => set({ key: e.currentTarget.value })}>
            <option value="">All keys</option>
            {(keys.data?.keys ?? []).map((k) => (
              <option value={k.name}>{k.name}</option>
            ))}
            {f.key && !keys.data?.keys.some((k) => k.name === f.key) ? (
              <option value={f.key}>{f.key}</option>
            ) : null}
          </select>
        </label>
        <label>
          Status
          <select name="status" value={f.status} onChange={(e) => set({ status: e.currentTarget.value })}>
            <option value="">Any</option>
            <option value="completed">completed</option>
            <option value="failed">failed</option>
            <option value="cancelled">cancelled</option>
          </select>
        </label>
        <label>
          Provider
          <select
            name="provider"
            value={f.provider}
            onChange={(e) => set({ provider: e.currentTarget.value })}
          >
            <option value="">Any</option>
            {PROVIDERS.map((p) => (
              <option value={p}>{p}</option>
            ))}
          </select>
        </label>
        <label>
          Model
          <input
            name="model"
            value={f.model}
            placeholder="contains…"
            onInput={(e) => set({ model: e.currentTarget.value })}
          />
        </label>
      </form>
      <ErrorNote error={logs.error} />
      {logs.data ? (
        <>
          <LogsTable logs={shown.slice((current - 1) * PAGE, current * PAGE)} />
          <Pager page={current} pages={pages} total={shown.length} onPage={(p) => set({ page: p })} />
        </>
      ) : logs.error ? null : (
        <Loading />
      )}
    </>
  );
}

export function Pager(props: { page: number; pages: number; total: number; onPage: (p: number) => void }) {
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={props.page <= 1} onClick={() => props.onPage(props.page - 1)}>
        ← Newer
      </button>
      <span>
        Page {props.page} of {props.pages} ({props.total} entries)
      </span>
      <button type="button" disabled={props.page >= props.pages} onClick={() => props.onPage(props.page + 1)}>
        Older →
      </button>
    </nav>
  );
}
