/** Usage counters: one Redis hash per key and period (day, month, total). */
import { microsToUsd } from '../jobs.js';

/** Fields of a usage hash. Tokens count input + output + cache creation + cache reads. */
export const USAGE_FIELDS = [
  'requests',
  'errors',
  'input_tokens',
  'output_tokens',
  'cache_creation_input_tokens',
  'cache_read_input_tokens',
  'tokens',
  'cost_micros',
] as const;

export interface UsageTotals {
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  tokens: number;
  cost_usd: number;
}

export function usageFromHash(h: Record<string, string | undefined>): UsageTotals {
  const n = (v: string | undefined) => (v === undefined ? 0 : Number(v));
  return {
    requests: n(h.requests),
    errors: n(h.errors),
    input_tokens: n(h.input_tokens),
    output_tokens: n(h.output_tokens),
    cache_creation_input_tokens: n(h.cache_creation_input_tokens),
    cache_read_input_tokens: n(h.cache_read_input_tokens),
    tokens: n(h.tokens),
    cost_usd: microsToUsd(n(h.cost_micros)),
  };
}
