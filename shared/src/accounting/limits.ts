/**
 * Per-key limits (0 = unlimited). The admin API speaks dollars; Redis stores integer
 * micro-dollars (`…Micros` fields of the key's hash), so no float ever accumulates.
 */
import { z } from 'zod';
import { usdToMicros, microsToUsd } from '../jobs.js';
import { PROVIDERS, type Provider } from '../providers.js';

const count = (name: string) =>
  z
    .number({ error: `${name} must be a number` })
    .int(`${name} must be a whole number`)
    .nonnegative(`${name} must be 0 (unlimited) or more`)
    .max(1e15, `${name} is too large`);
const dollars = (name: string) =>
  z
    .number({ error: `${name} must be a number (US dollars)` })
    .nonnegative(`${name} must be 0 (unlimited) or more`)
    .max(1e9, `${name} is too large`)
    // Stored as whole micro-dollars, where 0 means unlimited: a tiny limit must not become that.
    .refine((v) => v === 0 || usdToMicros(v) > 0, `${name} must be 0 (unlimited) or at least $0.000001`);

/** Limits as the admin API takes them (all optional: absent = unchanged / 0 at creation). */
export const limitsInputSchema = z
  .object({
    maxRequestsPerDay: count('maxRequestsPerDay'),
    maxRequestsPerMonth: count('maxRequestsPerMonth'),
    maxTokensPerMonth: count('maxTokensPerMonth'),
    maxCostPerDay: dollars('maxCostPerDay'),
    maxCostPerMonth: dollars('maxCostPerMonth'),
    maxConcurrent: count('maxConcurrent'),
    maxQueued: count('maxQueued'),
    maxRequestsPerMinute: count('maxRequestsPerMinute'),
    allowedProviders: z.array(
      z.enum(PROVIDERS, { error: `allowedProviders may hold only ${PROVIDERS.join(', ')}` }),
      {
        error: 'allowedProviders must be an array of provider names ([] = all)',
      },
    ),
  })
  .partial();
export type LimitsInput = z.infer<typeof limitsInputSchema>;

/** Limits as the API shows them. */
export interface KeyLimits {
  maxRequestsPerDay: number;
  maxRequestsPerMonth: number;
  maxTokensPerMonth: number;
  /** US dollars. */
  maxCostPerDay: number;
  maxCostPerMonth: number;
  maxConcurrent: number;
  /** Jobs admitted and not started yet; null = the server's MAX_QUEUED_PER_KEY. */
  maxQueued: number | null;
  maxRequestsPerMinute: number;
  /** Empty = every provider. */
  allowedProviders: Provider[];
}

/** The hash fields to write for `input` (only the limits it names). */
export function limitsToHash(input: LimitsInput): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(input)) {
    if (v === undefined) continue;
    if (k === 'maxCostPerDay' || k === 'maxCostPerMonth')
      out[`${k}Micros`] = String(usdToMicros(v as number));
    else if (k === 'allowedProviders') out[k] = [...new Set(v as Provider[])].join(',');
    else out[k] = String(v);
  }
  return out;
}

export function limitsFromHash(h: Record<string, string | undefined>): KeyLimits {
  const n = (v: string | undefined) => (v === undefined || v === '' ? 0 : Number(v));
  return {
    maxRequestsPerDay: n(h.maxRequestsPerDay),
    maxRequestsPerMonth: n(h.maxRequestsPerMonth),
    maxTokensPerMonth: n(h.maxTokensPerMonth),
    maxCostPerDay: microsToUsd(n(h.maxCostPerDayMicros)),
    maxCostPerMonth: microsToUsd(n(h.maxCostPerMonthMicros)),
    maxConcurrent: n(h.maxConcurrent),
    maxQueued: h.maxQueued === undefined || h.maxQueued === '' ? null : Number(h.maxQueued),
    maxRequestsPerMinute: n(h.maxRequestsPerMinute),
    allowedProviders: (h.allowedProviders ?? '')
      .split(',')
      .filter((p): p is Provider => (PROVIDERS as readonly string[]).includes(p)),
  };
}
