import { ADMIN_JOB_STATES, KEY_NAME } from '@cli-bridge/shared';
import { Router } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { parseQuery } from '../validate.js';
import { providerParam } from './admin-queues.routes.js';

const listQuerySchema = z
  .object({
    state: z
      .enum(ADMIN_JOB_STATES, { error: `state must be one of ${ADMIN_JOB_STATES.join(', ')}` })
      .optional(),
    // Checked apart: an unknown provider is 404, as in a path.
    provider: z.string().optional(),
    key: z.string().regex(KEY_NAME, 'key must be a key name').optional(),
    limit: z.coerce
      .number({ error: 'limit must be a number' })
      .int('limit must be a whole number')
      .min(1, 'limit must be 1-200')
      .max(200, 'limit must be 1-200')
      .default(50),
    cursor: z.string().max(2_000, 'cursor is not valid for this query').optional(),
  })
  .strict();

/** Any key's jobs: list, read, retry, cancel or remove (mounted under /admin, behind the admin check). */
export function adminJobRoutes({ services }: AppDeps): Router {
  const r = Router();
  const jobs = services.adminJobs;

  r.get('/jobs', async (req, res) => {
    const q = parseQuery(listQuerySchema, req.query);
    const provider = q.provider === undefined ? undefined : providerParam(q.provider);
    res.json(await jobs.list({ ...q, provider }));
  });
  r.get('/jobs/:id', async (req, res) => {
    res.json(await jobs.get(String(req.params.id)));
  });
  r.post('/jobs/:id/retry', async (req, res) => {
    res.json(await jobs.retry(String(req.params.id)));
  });
  r.delete('/jobs/:id', async (req, res) => {
    res.json(await jobs.remove(String(req.params.id)));
  });

  return r;
}
