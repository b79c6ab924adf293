/**
 * Paging of the admin job list over several BullMQ lists at once (one per provider and state),
 * newest first. The cursor is opaque to the client: base64url JSON of how far each list was
 * read, plus the query it belongs to, so a cursor cannot be replayed against another filter.
 */
import { BridgeError } from '@cli-bridge/shared';
import { z } from 'zod';

/** One list read by offset, newest first. */
export interface PageSource<T> {
  id: string;
  /** Items `start`..`start + count - 1`; an entry is undefined for an item that vanished meanwhile. */
  read(start: number, count: number): Promise<(T | undefined)[]>;
}

const cursorSchema = z.object({ q: z.string(), o: z.record(z.string(), z.number().int().nonnegative()) });

const badCursor = () =>
  new BridgeError('invalid_request', 'cursor is not valid for this query', { details: { field: 'cursor' } });

export function decodeCursor(cursor: string | undefined, query: string): Record<string, number> {
  if (cursor === undefined) return {};
  let parsed;
  try {
    parsed = cursorSchema.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')));
  } catch {
    throw badCursor();
  }
  if (!parsed.success || parsed.data.q !== query) throw badCursor();
  return parsed.data.o;
}

const encodeCursor = (query: string, offsets: Record<string, number>) =>
  Buffer.from(JSON.stringify({ q: query, o: offsets }), 'utf8').toString('base64url');

/**
 * A page of at most `limit` items that pass `keep`, merged from `sources` newest first by
 * `time`. Each source is read `window` items ahead; the merge stops where a source's window runs
 * out while that source has more (its next item could be newer than what is left elsewhere), so
 * no item is skipped. Work per page is bounded by `window` × sources.
 */
export async function mergePage<T>(opts: {
  sources: PageSource<T>[];
  query: string;
  cursor: string | undefined;
  limit: number;
  window: number;
  time: (item: T) => number;
  keep: (item: T) => boolean;
}): Promise<{ items: T[]; next_cursor: string | null }> {
  const offsets = decodeCursor(opts.cursor, opts.query);
  const lanes = await Promise.all(
    opts.sources.map(async (s) => {
      const start = offsets[s.id] ?? 0;
      const items = await s.read(start, opts.window);
      return { id: s.id, start, items, used: 0, more: items.length === opts.window };
    }),
  );
  const out: T[] = [];
  for (;;) {
    if (out.length === opts.limit) break;
    // A lane whose window is used up but whose list goes on: stop here.
    if (lanes.some((l) => l.more && l.used === l.items.length)) break;
    let best: (typeof lanes)[number] | undefined;
    let bestTime = -Infinity;
    for (const l of lanes) {
      if (l.used === l.items.length) continue;
      const item = l.items[l.used];
      // A vanished item is consumed at once.
      const t = item === undefined ? Infinity : opts.time(item);
      if (best === undefined || t > bestTime) [best, bestTime] = [l, t];
    }
    if (!best) break;
    const item = best.items[best.used++];
    if (item !== undefined && opts.keep(item)) out.push(item);
  }
  const next = Object.fromEntries(lanes.map((l) => [l.id, l.start + l.used]));
  const rest = lanes.some((l) => l.more || l.used < l.items.length);
  return { items: out, next_cursor: rest ? encodeCursor(opts.query, next) : null };
}
