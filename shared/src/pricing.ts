/**
 * Codex cost from `codex-pricing.json` (USD per 1M tokens). The file is re-read when its mtime
 * changes, no restart needed; a malformed file keeps the last good table and logs an error.
 * Claude needs no table: its CLI reports the cost itself.
 */
import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import type { Usage } from './jobs.js';
import type { Logger } from './logger.js';

const price = z.number().nonnegative().finite();
const pricingFileSchema = z.object({
  unit: z.string().optional(),
  note: z.string().optional(),
  models: z.record(z.string(), z.object({ input: price, cached_input: price, output: price }).strict()),
});
export type ModelPrice = z.infer<typeof pricingFileSchema>['models'][string];

/**
 * Integer micro-dollars for one run. `usage.input_tokens` is the uncached input (the bridge
 * stores Codex usage the Anthropic way: cached tokens separately), so
 * cost = input × in + cached × cached_in + output × out, per million tokens.
 * With prices in USD per 1M tokens, tokens × price is already micro-dollars.
 */
export function costMicros(p: ModelPrice, usage: Usage): number {
  return Math.round(
    usage.input_tokens * p.input +
      usage.cache_read_input_tokens * p.cached_input +
      usage.output_tokens * p.output,
  );
}

export interface PricingStoreOptions {
  file: string;
  logger: Logger;
  /** How often at most to stat the file (ms). */
  checkIntervalMs?: number;
}

export function createPricingStore(opts: PricingStoreOptions) {
  const log = opts.logger.child({ component: 'pricing', file: opts.file });
  const checkEvery = opts.checkIntervalMs ?? 1_000;
  let table: Record<string, ModelPrice> = {};
  let mtimeMs = -1;
  let lastCheck = -Infinity;

  function refresh(): void {
    const now = Date.now();
    if (now - lastCheck < checkEvery) return;
    lastCheck = now;
    let stat;
    try {
      stat = statSync(opts.file);
    } catch (err) {
      if (mtimeMs !== -2) log.error({ err }, 'pricing file unreadable; keeping the last good table');
      mtimeMs = -2;
      return;
    }
    if (stat.mtimeMs === mtimeMs) return;
    mtimeMs = stat.mtimeMs;
    try {
      const parsed = pricingFileSchema.parse(JSON.parse(readFileSync(opts.file, 'utf8')));
      table = parsed.models;
      log.info({ models: Object.keys(table).length }, 'pricing table loaded');
    } catch (err) {
      log.error({ err }, 'pricing file malformed; keeping the last good table');
    }
  }

  return {
    /** The model's price, or undefined when the table has none (such a model is refused). */
    get(model: string): ModelPrice | undefined {
      refresh();
      return Object.hasOwn(table, model) ? table[model] : undefined;
    },
    models(): string[] {
      refresh();
      return Object.keys(table);
    },
  };
}

export type PricingStore = ReturnType<typeof createPricingStore>;
