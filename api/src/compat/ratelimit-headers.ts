/**
 * The rate-limit headers OpenAI and Anthropic clients read, filled from the key's own limits as
 * the admission script left them (this request counted), set only for a limit the key has:
 *
 * - requests: the key's tightest request limit: `maxRequestsPerMinute`, else
 *   `maxRequestsPerDay`, else `maxRequestsPerMonth`; its reset is the end of that period;
 * - tokens: `maxTokensPerMonth` (settled tokens this UTC month); reset at the next month.
 *
 * OpenAI: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` (reset as a duration, "1m30s").
 * Anthropic: `anthropic-ratelimit-{requests,tokens}-{limit,remaining,reset}` (reset as an RFC 3339
 * time). A refused request carries `Retry-After` instead (the error handler sets it).
 */
import {
  secondsToNextDay,
  secondsToNextMinute,
  secondsToNextMonth,
  type KeyQuota,
  type QuotaUse,
} from '@cli-bridge/shared';
import type { Response } from 'express';

export type HeaderDialect = 'openai' | 'anthropic';

interface Window {
  use: QuotaUse;
  resetS: number;
}

/** "1m30s", "45s", "2h0m0s": the duration format of OpenAI's reset headers. */
export function openaiDuration(seconds: number): string {
  const s = Math.max(0, Math.ceil(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h > 0) return `${h}h${m}m${rest}s`;
  if (m > 0) return `${m}m${rest}s`;
  return `${rest}s`;
}

function windows(quota: KeyQuota, now: number): { requests?: Window; tokens?: Window } {
  const requests = [
    { use: quota.requestsPerMinute, resetS: secondsToNextMinute(now) },
    { use: quota.requestsPerDay, resetS: secondsToNextDay(now) },
    { use: quota.requestsPerMonth, resetS: secondsToNextMonth(now) },
  ].find((w) => w.use.limit > 0);
  const tokens =
    quota.tokensPerMonth.limit > 0
      ? { use: quota.tokensPerMonth, resetS: secondsToNextMonth(now) }
      : undefined;
  return { requests, tokens };
}

export function setRateLimitHeaders(
  res: Response,
  dialect: HeaderDialect,
  quota: KeyQuota,
  now = Date.now(),
): void {
  if (res.headersSent) return;
  for (const [kind, w] of Object.entries(windows(quota, now))) {
    if (!w) continue;
    const remaining = String(Math.max(0, w.use.limit - w.use.used));
    if (dialect === 'openai') {
      res.setHeader(`x-ratelimit-limit-${kind}`, String(w.use.limit));
      res.setHeader(`x-ratelimit-remaining-${kind}`, remaining);
      res.setHeader(`x-ratelimit-reset-${kind}`, openaiDuration(w.resetS));
    } else {
      res.setHeader(`anthropic-ratelimit-${kind}-limit`, String(w.use.limit));
      res.setHeader(`anthropic-ratelimit-${kind}-remaining`, remaining);
      res.setHeader(
        `anthropic-ratelimit-${kind}-reset`,
        new Date(Math.floor((now + w.resetS * 1000) / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
      );
    }
  }
}
