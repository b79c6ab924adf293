/**
 * The one way the page talks to the bridge: same-origin fetches that carry the session cookie
 * (never a key: the browser holds no key after login). Errors come back as `ApiError` with the
 * bridge's error type and message; a 401 also tells the app that the session is over.
 */

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

/** Called on every 401 (an expired or ended session); returns an unsubscribe function. */
export function onUnauthorized(fn: Listener): () => void {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = (json as { error?: { type?: string; message?: string } } | undefined)?.error;
    if (res.status === 401) for (const fn of unauthorizedListeners) fn();
    throw new ApiError(res.status, err?.type ?? 'error', err?.message ?? `HTTP ${res.status}`);
  }
  return json as T;
}

export const get = <T>(path: string) => api<T>('GET', path);

/** `?a=1&b=2` from the defined, non-empty values. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
