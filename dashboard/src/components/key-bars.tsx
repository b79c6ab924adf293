/** A key's usage against each of its limits, as bars. */
import { fmtInt, fmtUsd } from '../format.js';
import type { KeyView } from '../types.js';
import { UsageBar } from './bits.js';

export function KeyBars({ k }: { k: KeyView }) {
  return (
    <>
      <UsageBar
        label="Requests today"
        used={k.usage.today.requests}
        limit={k.maxRequestsPerDay}
        format={fmtInt}
      />
      <UsageBar
        label="Requests this month"
        used={k.usage.month.requests}
        limit={k.maxRequestsPerMonth}
        format={fmtInt}
      />
      <UsageBar
        label="Tokens this month"
        used={k.usage.month.tokens}
        limit={k.maxTokensPerMonth}
        format={fmtInt}
      />
      <UsageBar label="Spend today" used={k.usage.today.cost_usd} limit={k.maxCostPerDay} format={fmtUsd} />
      <UsageBar
        label="Spend this month"
        used={k.usage.month.cost_usd}
        limit={k.maxCostPerMonth}
        format={fmtUsd}
      />
      <UsageBar label="Running" used={k.active} limit={k.maxConcurrent} format={fmtInt} />
    </>
  );
}
