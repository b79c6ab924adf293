/** Small shared pieces: usage bars, error and empty notes, a status badge. */
import type { ComponentChildren } from 'preact';
import { PROVIDERS } from '../types.js';

/** used/limit as a bar; a limit of 0 means unlimited (no bar, just the number). */
export function UsageBar(props: {
  label: string;
  used: number;
  limit: number;
  format?: (n: number) => string;
}) {
  const f = props.format ?? String;
  const pct = props.limit > 0 ? Math.min(100, (props.used / props.limit) * 100) : 0;
  const level = pct >= 100 ? 'full' : pct >= 80 ? 'high' : 'ok';
  return (
    <div class="usage" title={props.label}>
      <span class="usage-label">{props.label}</span>
      <span class="usage-num">
        {f(props.used)} / {props.limit > 0 ? f(props.limit) : '∞'}
      </span>
      {props.limit > 0 ? (
        <progress
          class={`bar ${level}`}
          max={100}
          value={pct}
          aria-label={`${props.label}: ${Math.round(pct)}%`}
        />
      ) : null}
    </div>
  );
}

export function ErrorNote({ error }: { error: Error | undefined }) {
  return error ? (
    <p class="error" role="alert">
      {error.message}
    </p>
  ) : null;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

export function Badge({ kind, children }: { kind: string; children: ComponentChildren }) {
  return <span class={`badge ${kind}`}>{children}</span>;
}

export function Loading() {
  return <p class="empty">Loading…</p>;
}

/** The "Provider" filter of a list: Any, or one provider. */
export function ProviderSelect(props: { value: string; onChange: (provider: string) => void }) {
  return (
    <label>
      Provider
      <select name="provider" value={props.value} onChange={(e) => props.onChange(e.currentTarget.value)}>
        <option value="">Any</option>
        {PROVIDERS.map((p) => (
          <option value={p}>{p}</option>
        ))}
      </select>
    </label>
  );
}
