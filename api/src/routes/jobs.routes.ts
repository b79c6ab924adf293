import { BridgeError, generateRequestSchema, PROVIDERS } from '@cli-bridge/shared';
import { Router } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import { requireAdmittedUserKey, requireUserKey } from '../middleware/auth.js';
import { jsonBody } from '../middleware/body.js';
import { JOB_STATUSES } from '../services/jobs.service.js';
import { EVENT_ID, followJob, startSse } from '../sse.js';
import { parseBody, parseQuery } from '../validate.js';
import { noteJob } from '../middleware/request-metrics.js';

const submitSchema = generateRequestSchema.omit({ stream: true }).extend({
  provider: z.enum(PROVIDERS, { error: `provider must be one of ${PROVIDERS.join(', ')}` }),
});

const listSchema = z.object({
  status: z
    .enum(JOB_STATUSES as [string, ...string[]], {
      error: `status must be one of ${JOB_STATUSES.join(', ')}`,
    })
    .optional(),
  limit: z.coerce
    .number({ error: 'limit must be a number' })
    .int()
    .min(1, 'limit must be 1-100')
    .max(100, 'limit must be 1-100')
    .default(20),
  cursor: z.coerce
    .number({ error: 'cursor must be the next_cursor of a previous page' })
    .int('cursor must be the next_cursor of a previous page')
    .min(0, 'cursor must be the next_cursor of a previous page')
    .optional(),
});

/** Idempotency-Key: 1-200 printable ASCII characters. */
const IDEMPOTENCY_KEY = /^[\x20-\x7e]{1,200}$/;

/** Async jobs: submit, poll, list, cancel, follow (SSE). */
export function jobsRoutes(deps: AppDeps): Router {
  const { services } = deps;
  const r = Router();

  // POST /jobs goes through admission, so it may take a cached key lookup (auth.ts); but not with
  // an Idempotency-Key, whose repeat answers the existing job without admission. Registered
  // before the other /jobs routes' uncached check, and ends the request, so that one never runs.
  const submitAuth = requireAdmittedUserKey(services.auth, (req) => req.get('idempotency-key') === undefined);
  r.post('/jobs', submitAuth, jsonBody(deps.config), async (req, res) => {
    const { provider, ...request } = parseBody(submitSchema, req.body);
    const idem = req.get('idempotency-key');
    if (idem !== undefined && !IDEMPOTENCY_KEY.test(idem)) {
      throw new BridgeError('invalid_request', 'Idempotency-Key must be 1-200 printable characters', {
        details: { field: 'Idempotency-Key' },
      });
    }
    const { view, created } = await services.jobs.submit(
      { keyId: req.keyId!, keyName: req.keyName! },
      provider,
      request,
      {
        idempotencyKey: idem,
        requestId: String(req.id),
      },
    );
    noteJob(res, { id: view.id, data: view });
    res.setHeader('Location', `/jobs/${view.id}`);
    res.status(created ? 202 : 200).json(view);
  });

  // Reading, listing, following and cancelling never reach admission: always looked up.
  r.use('/jobs', requireUserKey(services.auth));

  r.get('/jobs', async (req, res) => {
    const q = parseQuery(listSchema, req.query);
    res.json(
      await services.jobs.list(req.keyId!, { status: q.status as never, limit: q.limit, cursor: q.cursor }),
    );
  });

  r.get('/jobs/:id', async (req, res) => {
    res.json(await services.jobs.view(req.keyId!, req.params.id!));
  });

  r.delete('/jobs/:id', async (req, res) => {
    res.json(await services.jobs.cancel(req.keyId!, req.params.id!));
  });

  r.get('/jobs/:id/events', async (req, res) => {
    const id = req.params.id!;
    await services.jobs.view(req.keyId!, id); // 404 unless it is the caller's job
    const after =
      req.get('last-event-id') ?? (typeof req.query.lastEventId === 'string' ? req.query.lastEventId : '0-0');
    if (!EVENT_ID.test(after)) {
      throw new BridgeError('invalid_request', 'Last-Event-ID must be an event id such as 1732771234567-0');
    }
    const followed = await followJob(services.events, { jobId: id, keyId: req.keyId!, after });
    startSse(res, { 'X-Job-Id': id });
    await followed.relay(res, deps.config.SSE_HEARTBEAT_MS);
  });

  return r;
}
