/**
 * The admin job list's paging over several lists (no network): newest first across lists, every
 * item exactly once whatever the page size, vanished items skipped, cursors bound to their query.
 */
import { mergePage, type PageSource } from '@cli-bridge/api';
import { BridgeError } from '@cli-bridge/shared';
import { describe, expect, it } from 'vitest';

interface Item {
  id: string;
  t: number;
  key: string;
}

/** A list read by offset, newest first; `gone` ids read as vanished. */
const source = (id: string, items: Item[], gone = new Set<string>()): PageSource<Item> => ({
  id,
  read: async (start, count) =>
    items.slice(start, start + count).map((i) => (gone.has(i.id) ? undefined : i)),
});

const a: Item[] = [9, 8, 5, 4, 1].map((t) => ({ id: `a${t}`, t, key: t % 2 ? 'odd' : 'even' }));
const b: Item[] = [7, 6, 3, 2].map((t) => ({ id: `b${t}`, t, key: t % 2 ? 'odd' : 'even' }));

async function all(opts: { limit: number; window: number; key?: string; gone?: Set<string> }) {
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 50; pages++) {
    const page = await mergePage({
      sources: [source('a', a, opts.gone), source('b', b, opts.gone)],
      query: `q-${opts.key ?? ''}`,
      cursor,
      limit: opts.limit,
      window: opts.window,
      time: (i) => i.t,
      keep: (i) => opts.key === undefined || i.key === opts.key,
    });
    expect(page.items.length).toBeLessThanOrEqual(opts.limit);
    seen.push(...page.items.map((i) => i.id));
    if (page.next_cursor === null) return seen;
    cursor = page.next_cursor;
  }
  throw new Error('no last page');
}

describe('mergePage', () => {
  const newestFirst = ['a9', 'a8', 'b7', 'b6', 'a5', 'a4', 'b3', 'b2', 'a1'];

  it('gives every item once, newest first, whatever the page size and read-ahead', async () => {
    for (const limit of [1, 2, 3, 9, 20])
      for (const window of [limit, limit * 3])
        expect(await all({ limit, window }), `${limit}/${window}`).toEqual(newestFirst);
  });

  it('filters without skipping, and passes over vanished items', async () => {
    expect(await all({ limit: 1, window: 2, key: 'odd' })).toEqual(['a9', 'b7', 'a5', 'b3', 'a1']);
    expect(await all({ limit: 2, window: 2, gone: new Set(['b7', 'a4']) })).toEqual(
      newestFirst.filter((id) => id !== 'b7' && id !== 'a4'),
    );
  });

  it('refuses a malformed cursor, or one of another query, as invalid_request on `cursor`', async () => {
    const page = await mergePage({
      sources: [source('a', a)],
      query: 'one',
      cursor: undefined,
      limit: 1,
      window: 1,
      time: (i) => i.t,
      keep: () => true,
    });
    for (const [cursor, query] of [
      ['garbage', 'one'],
      [Buffer.from('{"q":"one","o":{"a":-1}}').toString('base64url'), 'one'],
      [page.next_cursor!, 'other'],
    ] as const) {
      const run = mergePage({
        sources: [source('a', a)],
        query,
        cursor,
        limit: 1,
        window: 1,
        time: (i) => i.t,
        keep: () => true,
      });
      await expect(run).rejects.toBeInstanceOf(BridgeError);
      await expect(run).rejects.toMatchObject({ type: 'invalid_request', details: { field: 'cursor' } });
    }
  });
});
