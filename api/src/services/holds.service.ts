/**
 * Holds as the admin API shows and lifts them, over the account holds of `shared/src/holds.ts`:
 * each account's hold and Agent SDK credit, the provider-wide hold (set while every live account
 * is held: the earliest reset), and lifting one account's hold or all of them (which also lifts
 * the queue-wide rate limit the workers set while every account was held, so jobs run at once).
 */
import {
  clearQueueHold,
  creditOf,
  creditView,
  holdView,
  type AccountCredit,
  type Config,
  type CreditView,
  type GenerateQueue,
  type HoldView,
  type Holds,
  type Provider,
} from '@cli-bridge/shared';

export type Hold = HoldView;

export interface AccountView {
  name: string;
  hold: HoldView | null;
  /** Claude accounts: the month's spend against the Agent SDK credit; null for Codex. */
  credit: CreditView | null;
}

export interface AdminHoldsDeps {
  holds: Holds;
  credit: AccountCredit;
  queues: Record<Provider, GenerateQueue>;
  config: Pick<Config, 'CLAUDE_ACCOUNT_CREDIT_USD' | 'CLAUDE_ACCOUNT_CREDIT_STOP_SHARE'>;
  now?: () => number;
}

export function createAdminHolds(deps: AdminHoldsDeps) {
  const clock = deps.now ?? Date.now;
  return {
    /** The provider-wide hold: every live account held; null while one can serve. */
    async read(provider: Provider): Promise<Hold | null> {
      const now = clock();
      const ex = await deps.holds.exhausted(provider, now);
      if (!ex) return null;
      const first = [...(await deps.holds.list(provider)).values()].find((h) => h.until === ex.until);
      return {
        until: new Date(ex.until).toISOString(),
        reason: first?.reason ?? 'usage_limit',
        ...(first?.message ? { message: first.message } : {}),
      };
    },

    /** Each account served or held, with its hold and (Claude) its credit. */
    async accounts(provider: Provider): Promise<AccountView[]> {
      const now = clock();
      const list = await deps.holds.accounts(provider, now);
      return Promise.all(
        list.map(async ({ name, hold }) => ({
          name,
          hold: hold ? holdView(hold) : null,
          credit:
            provider === 'claude'
              ? creditView(
                  await deps.credit.spent(provider, name, now),
                  creditOf(deps.config.CLAUDE_ACCOUNT_CREDIT_USD, name),
                  deps.config.CLAUDE_ACCOUNT_CREDIT_STOP_SHARE,
                  now,
                )
              : null,
        })),
      );
    },

    /** Lifts one account's hold, or every account's when `account` is absent. */
    async clear(provider: Provider, account?: string): Promise<void> {
      await deps.holds.clear(provider, account);
      // The queue-wide limit stood only while every account was held: none is now.
      await clearQueueHold(deps.queues[provider]);
    },
  };
}

export type AdminHolds = ReturnType<typeof createAdminHolds>;
