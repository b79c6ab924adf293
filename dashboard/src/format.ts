/** How numbers, money and times are shown. */

const int = new Intl.NumberFormat('en-US');
export const fmtInt = (n: number | null | undefined) => (n == null ? '—' : int.format(n));

export const fmtUsd = (n: number | null | undefined) =>
  n == null ? '—' : `$${n < 1 && n > 0 ? n.toFixed(4) : n.toFixed(2)}`;

export function fmtMs(ms: number | null | undefined): string {
  if (ms == null) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** `3 s ago`, `5 min ago`... */
export function fmtAgo(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const s = Math.round((now - new Date(iso).getTime()) / 1000);
  if (s < 60) return `${Math.max(0, s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  return `${Math.floor(s / 3600)} h ago`;
}

/** `1h 02m 05s` until `iso`. */
export function fmtCountdown(iso: string, now = Date.now()): string {
  const left = Math.max(0, Math.round((new Date(iso).getTime() - now) / 1000));
  const h = Math.floor(left / 3600);
  const m = Math.floor((left % 3600) / 60);
  const s = left % 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}h ${pad(m)}m ${pad(s)}s` : `${m}m ${pad(s)}s`;
}

/** A short axis label for an amount of dollars: `$0.0012`, `$1.5`, `$120`. */
export const fmtUsdAxis = (n: number) => `$${n === 0 ? '0' : Number(n.toPrecision(2))}`;
