import { Router } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { parseQuery } from '../validate.js';

const statsQuerySchema = z
  .object({
    days: z.coerce
      .number({ error: 'days must be a number' })
      .int('days must be a whole number')
      .min(1, 'days must be 1-90')
      .max(90, 'days must be 1-90')
      .default(30),
  })
  .strict();

/** Per-day stats, overall and per key (mounted under /admin, behind the admin check). */
export function adminStatsRoutes({ services }: AppDeps): Router {
  const r = Router();
  r.get('/stats', async (req, res) => {
    const { days } = parseQuery(statsQuerySchema, req.query);
    res.json(await services.adminStats.read(days));
  });
  return r;
}
