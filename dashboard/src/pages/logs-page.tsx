/**
 * Logs: the request log filtered by key, status, provider and model, a page at a time; the bridge
 * filters and pages (`/admin/logs?...&offset=`), over every entry it keeps. Filters and page live
 * in the URL.
 */
import { get, query } from '../api.js';
import { ErrorNote, Loading, ProviderSelect } from '../components/bits.js';
import { LogsTable } from '../components/logs-table.js';
import type { KeyView, LogEntry } from '../types.js';
import { usePoll } from '../use-poll.js';
import { replaceRoute, type Route } from '../use-route.js';

const PAGE = 25;

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
    () =>
      get<{ logs: LogEntry[]; next_offset: number | null }>(
        `/admin/logs${query({ ...f, limit: PAGE, offset: (page - 1) * PAGE })}`,
      ),
    [f.key, f.status, f.provider, f.model, page],
  );
  const set = (change: Record<string, string | number>) =>
    replaceRoute('logs', { ...f, page, ...change, ...('page' in change ? {} : { page: 1 }) });

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
        <ProviderSelect value={f.provider} onChange={(provider) => set({ provider })} />
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
          <LogsTable logs={logs.data.logs} />
          <Pager page={page} more={logs.data.next_offset !== null} onPage={(p) => set({ page: p })} />
        </>
      ) : logs.error ? null : (
        <Loading />
      )}
    </>
  );
}

export function Pager(props: { page: number; more: boolean; onPage: (p: number) => void }) {
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={props.page <= 1} onClick={() => props.onPage(props.page - 1)}>
        ← Newer
      </button>
      <span>Page {props.page}</span>
      <button type="button" disabled={!props.more} onClick={() => props.onPage(props.page + 1)}>
        Older →
      </button>
    </nav>
  );
}
