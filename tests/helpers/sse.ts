/** A minimal SSE client over fetch, for tests: events as they arrive, comments, timing. */
export interface SseEvent {
  id?: string;
  event: string;
  data: any;
  /** ms since epoch when the event was parsed. */
  at: number;
}

export interface SseResult {
  status: number;
  headers: Headers;
  events: SseEvent[];
  comments: string[];
  /** Non-SSE body (error responses). */
  json?: any;
}

export interface SseOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** Stop reading (and disconnect) once this returns true for the events so far. */
  until?: (events: SseEvent[]) => boolean;
  onEvent?: (e: SseEvent) => void;
}

export async function readSse(url: string, opts: SseOptions = {}): Promise<SseResult> {
  const ac = new AbortController();
  const res = await fetch(url, {
    method: opts.method ?? 'GET',
    headers: { ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: ac.signal,
  });
  const out: SseResult = { status: res.status, headers: res.headers, events: [], comments: [] };
  if (!res.headers.get('content-type')?.startsWith('text/event-stream')) {
    out.json = await res.json().catch(() => undefined);
    return out;
  }
  const decoder = new TextDecoder();
  let buf = '';
  const reader = res.body!.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev: Partial<SseEvent> = { event: 'message' };
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) out.comments.push(line.slice(1).trim());
          else if (line.startsWith('id: ')) ev.id = line.slice(4);
          else if (line.startsWith('event: ')) ev.event = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (!data && ev.id === undefined) continue;
        const full: SseEvent = {
          ...(ev as SseEvent),
          data: data ? JSON.parse(data) : undefined,
          at: Date.now(),
        };
        out.events.push(full);
        opts.onEvent?.(full);
        if (opts.until?.(out.events)) {
          ac.abort();
          return out;
        }
      }
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  }
  return out;
}
