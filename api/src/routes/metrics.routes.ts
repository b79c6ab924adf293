/**
 * GET /metrics: Prometheus text for this API process and the fleet (services/metrics.service.ts).
 * Readable with the admin key, or with METRICS_TOKEN as a bearer when it is set (so a scraper
 * need not hold the admin key).
 */
import { safeEqual } from '@cli-bridge/shared';
import { Router } from 'express';
import type { AppDeps } from '../deps.js';
import { presentedKey, requireAdmin } from '../middleware/auth.js';

export function metricsRoutes(deps: AppDeps): Router {
  const { config, services } = deps;
  const r = Router();
  const admin = requireAdmin({ ...services.auth, adminKey: config.BRIDGE_ADMIN_KEY });
  r.get(
    '/metrics',
    (req, res, next) => {
      const token = config.METRICS_TOKEN;
      const given = presentedKey(req);
      if (token && given && safeEqual(given, token)) return next();
      return admin(req, res, next);
    },
    async (_req, res) => {
      const body = await services.metrics.render();
      res.type(services.metrics.contentType).send(body);
    },
  );
  return r;
}
