import { Router } from 'express';
import type { AppDeps } from '../deps.js';
import { requireUserKey } from '../middleware/auth.js';
import { BridgeError } from '@cli-bridge/shared';

/** GET /usage: the caller's own limits, usage and what remains (null = unlimited). */
export function usageRoutes({ services }: AppDeps): Router {
  const r = Router();
  r.get('/usage', requireUserKey(services.auth), async (req, res) => {
    const rec = await services.keyStore.getById(req.keyId!);
    if (!rec) throw new BridgeError('unauthorized', 'Invalid API key');
    const { id, name, created_at, ...limits } = rec;
    const { today, month } = await services.keyStore.usage(id);
    const left = (limit: number, used: number) => (limit > 0 ? Math.max(0, limit - used) : null);
    const leftUsd = (limit: number, used: number) =>
      limit > 0 ? Math.max(0, Math.round((limit - used) * 1e6) / 1e6) : null;
    res.json({
      key: name,
      created_at,
      limits,
      usage: { today, month },
      active: await services.leases.active(id),
      remaining: {
        requests_today: left(limits.maxRequestsPerDay, today.requests),
        requests_this_month: left(limits.maxRequestsPerMonth, month.requests),
        tokens_this_month: left(limits.maxTokensPerMonth, month.tokens),
        cost_today_usd: leftUsd(limits.maxCostPerDay, today.cost_usd),
        cost_this_month_usd: leftUsd(limits.maxCostPerMonth, month.cost_usd),
      },
    });
  });
  return r;
}
