import { Router } from 'express';
import type { AppDeps } from '../deps.js';

export function healthRoutes({ services }: AppDeps): Router {
  const r = Router();
  r.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  r.get('/ready', async (_req, res) => {
    const ready = await services.health.readiness();
    res.status(ready.status === 'ok' ? 200 : 503).json(ready);
  });
  return r;
}
