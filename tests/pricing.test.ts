/**
 * Codex pricing: the table is re-read when the file changes (no restart), a malformed file keeps
 * the last good table, and a model with no price is refused at admission, never charged $0.
 */
import { copyFileSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, createPricingStore } from '@cli-bridge/shared';
import { ROOT, tempDir } from './helpers/env.js';
import { createHarness, postJson } from './helpers/harness.js';
import { waitFor } from './helpers/records.js';

const dir = tempDir('pricing');
const file = join(dir, 'codex-pricing.json');
copyFileSync(join(ROOT, 'codex-pricing.json'), file);
const original = JSON.parse(readFileSync(file, 'utf8'));

/** Writes the file with an mtime that surely differs from the last one. */
let tick = Date.now() / 1000;
function write(content: string) {
  writeFileSync(file, content);
  tick += 10;
  utimesSync(file, tick, tick);
}

describe('pricing store', () => {
  it('reloads on change and keeps the last good table on a malformed file', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      name: 't',
      destination: { write: (l: string) => lines.push(l) } as never,
    });
    const store = createPricingStore({ file, logger, checkIntervalMs: 0 });
    expect(store.get('gpt-5-codex')).toEqual({ input: 1.25, cached_input: 0.125, output: 10 });
    expect(store.get('gpt-new')).toBeUndefined();
    write(
      JSON.stringify({ models: { ...original.models, 'gpt-new': { input: 2, cached_input: 1, output: 3 } } }),
    );
    expect(store.get('gpt-new')).toEqual({ input: 2, cached_input: 1, output: 3 });
    write('{ this is not json');
    expect(store.get('gpt-new')).toEqual({ input: 2, cached_input: 1, output: 3 });
    write(JSON.stringify({ models: { bad: { input: -1, cached_input: 0, output: 0 } } }));
    expect(store.get('gpt-new')).toBeDefined();
    expect(lines.filter((l) => l.includes('pricing file malformed')).length).toBe(2);
    write(JSON.stringify(original));
  });
});

describe('pricing through the bridge', () => {
  const h = createHarness('pricing', { CODEX_PRICING_FILE: file });
  let url = '';
  let key = '';
  beforeAll(async () => {
    url = (await h.startApi()).url;
    await h.startWorker(['codex']);
    key = await h.createKey(url);
  });
  afterAll(() => h.cleanup());
  const gen = (model: string, prompt = 'hi @@fake in=1000 cached=0 out=1000@@') =>
    postJson(
      `${url}/generate-codex`,
      { systemPrompt: '', userPrompt: prompt, model },
      { authorization: `Bearer ${key}` },
    );

  it('refuses a model with no price, then prices it once the file has it, without a restart', async () => {
    const refused = await gen('gpt-hot');
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatchObject({ type: 'invalid_request', field: 'model' });
    write(
      JSON.stringify({
        models: { ...original.models, 'gpt-hot': { input: 3, cached_input: 0.3, output: 7 } },
      }),
    );
    const ok = await waitFor(
      async () => {
        const r = await gen('gpt-hot');
        return r.status === 200 ? r : undefined;
      },
      5_000,
      'the new price to be picked up',
    );
    // 1000 × 3 + 1000 × 7 = 10,000 micro-dollars
    expect(ok.json.cost_usd).toBe(0.01);
  });
});
