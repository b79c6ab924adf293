/**
 * The admin page's place lives in the URL's hash (`#/logs?key=a&page=2`): a reload, a bookmark or
 * the back button lands where the user was, and a refresh of the data never moves it.
 */
import { useEffect, useState } from 'preact/hooks';

export interface Route {
  /** `overview`, `keys`, `keys/<name>`, `logs`, `queues`, `jobs/<id>`, `workers`. */
  path: string;
  params: URLSearchParams;
}

function parse(): Route {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path = '', q = ''] = raw.split('?', 2);
  return { path: path || 'overview', params: new URLSearchParams(q) };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(parse);
  useEffect(() => {
    const on = () => setRoute(parse());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export function href(path: string, params: Record<string, string | number | undefined> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return `#/${path}${s ? `?${s}` : ''}`;
}

/** Changes the place (filters, page) without adding a history entry per keystroke. */
export function replaceRoute(path: string, params: Record<string, string | number | undefined>): void {
  history.replaceState(null, '', href(path, params));
  dispatchEvent(new HashChangeEvent('hashchange'));
}
