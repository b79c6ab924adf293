/**
 * The Agent SDK credit of each Claude account: `claude -p` on a subscription draws a monthly
 * credit (in US dollars, renewed on the 1st, UTC) rather than the interactive limits. The bridge
 * sums the cost the CLI reports per account and UTC month in Redis (every box serving the account
 * adds to the same sum), and, with a configured credit, shows what is left and when, at this
 * month's burn rate, it runs out.
 */
import type { Redis } from 'ioredis';
import { utcMonth } from './accounting/periods.js';
import type { AccountCreditSpec } from './config.js';
import { nextMonthStart } from './holds.js';
import type { Provider } from './providers.js';
import type { RedisKeys } from './redis-keys.js';

/** Month sums are kept a little over two months (this month and the last, for a look back). */
const SPEND_TTL_S = 70 * 86_400;

export interface AccountSpend {
  /** `YYYY-MM` (UTC). */
  month: string;
  costMicros: number;
  runs: number;
}

/** What the admin API shows of an account's credit. */
export interface CreditView {
  month: string;
  spent_usd: number;
  runs: number;
  /** The configured credit (null: none configured, only the spend is known). */
  credit_usd: number | null;
  remaining_usd: number | null;
  /** Spent share of the credit, 0-1+ (null without a credit). */
  used_share: number | null;
  /** CLAUDE_ACCOUNT_CREDIT_STOP_SHARE (null: the account is used to the end of its credit). */
  stop_share: number | null;
  /** At this month's average burn rate, when the credit runs out; null if not before it renews. */
  projected_exhaustion_at: string | null;
  /** The credit renews then (the 1st of next month, UTC). */
  renews_at: string;
}

export function createAccountCredit(deps: { redis: Redis; keys: RedisKeys; now?: () => number }) {
  const { redis, keys } = deps;
  const clock = deps.now ?? Date.now;
  return {
    /** Adds one run's reported cost to the account's month; returns the month's new sum. */
    async add(provider: Provider, account: string, costMicros: number, now = clock()): Promise<number> {
      const key = keys.accountSpend(provider, account, utcMonth(now));
      const [[, sum]] = (await redis
        .multi()
        .hincrby(key, 'cost_micros', Math.max(0, Math.round(costMicros)))
        .hincrby(key, 'runs', 1)
        .expire(key, SPEND_TTL_S)
        .exec()) as [[Error | null, number], ...unknown[]];
      return Number(sum);
    },

    async spent(provider: Provider, account: string, now = clock()): Promise<AccountSpend> {
      const month = utcMonth(now);
      const [cost, runs] = await redis.hmget(
        keys.accountSpend(provider, account, month),
        'cost_micros',
        'runs',
      );
      return { month, costMicros: Number(cost ?? 0), runs: Number(runs ?? 0) };
    },
  };
}

export type AccountCredit = ReturnType<typeof createAccountCredit>;

/** The configured credit of an account (its own entry, else the bare amount `*`), in USD. */
export function creditOf(credits: readonly AccountCreditSpec[], account: string): number | undefined {
  return (credits.find((c) => c.account === account) ?? credits.find((c) => c.account === '*'))?.usd;
}

/**
 * Spend, what is left and the projected exhaustion: the month's spend so far divided by the time
 * elapsed since the month began is the burn rate; the credit left at that rate lasts until
 * `projected_exhaustion_at` (null when that is after the credit renews, or nothing was spent).
 */
export function creditView(
  spend: AccountSpend,
  creditUsd: number | undefined,
  stopShare: number | undefined,
  now: number,
): CreditView {
  const spentUsd = spend.costMicros / 1_000_000;
  const d = new Date(now);
  const monthStart = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const renews = nextMonthStart(now);
  let projected: string | null = null;
  if (creditUsd !== undefined && spend.costMicros > 0) {
    const ratePerMs = spend.costMicros / Math.max(1, now - monthStart);
    const leftMicros = Math.max(0, creditUsd * 1_000_000 - spend.costMicros);
    const at = now + leftMicros / ratePerMs;
    if (at < renews) projected = new Date(Math.round(at)).toISOString();
  }
  return {
    month: spend.month,
    spent_usd: spentUsd,
    runs: spend.runs,
    credit_usd: creditUsd ?? null,
    remaining_usd: creditUsd === undefined ? null : Math.max(0, creditUsd - spentUsd),
    used_share: creditUsd === undefined || creditUsd === 0 ? null : spentUsd / creditUsd,
    stop_share: stopShare ?? null,
    projected_exhaustion_at: projected,
    renews_at: new Date(renews).toISOString(),
  };
}
