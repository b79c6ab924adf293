import { generateRequestSchema, newJobId, type GenerateJob, type Provider } from '@cli-bridge/shared';
import { Router, type RequestHandler, type Response } from 'express';
import type { AppDeps } from '../deps.js';
import { jsonBody } from '../middleware/body.js';
import { requireUserKey } from '../middleware/auth.js';
import { followJob, startSse } from '../sse.js';
import { parseBody } from '../validate.js';

/**
 * POST /generate (Claude) and POST /generate-codex: enqueue, then wait and answer, or stream
 * (`"stream": true`, SSE). A client that goes away takes its job with it (CANCEL_ON_DISCONNECT).
 */
export function generateRoutes({ config, services, logger }: AppDeps): Router {
  const r = Router();
  const auth = requireUserKey(services.auth);
  const body = jsonBody(config);

  /** 'close' on the response fires for a finished answer and a vanished client alike. */
  const cancelOnDisconnect = (res: Response, job: GenerateJob, provider: Provider) => {
    if (!config.CANCEL_ON_DISCONNECT) return;
    res.on('close', () => {
      if (res.writableFinished) return;
      services.jobs
        .cancelJob(job, provider)
        .catch((err: unknown) => logger.warn({ jobId: job.id, err }, 'cancel on disconnect failed'));
    });
  };

  const handler = (provider: Provider) =>
    [
      auth,
      body,
      async (req, res) => {
        const request = parseBody(generateRequestSchema, req.body);
        const input = {
          provider,
          request,
          caller: { keyId: req.keyId!, keyName: req.keyName! },
          requestId: String(req.id),
        };
        if (request.stream) {
          // Follow first (a 429 for too many streams comes before the job exists), then submit.
          const jobId = newJobId(provider);
          const followed = await followJob(services.events, { jobId, keyId: req.keyId!, after: '0-0' });
          let job: GenerateJob;
          try {
            job = await services.generate.submit({ ...input, jobId });
          } catch (err) {
            followed.cancel();
            throw err;
          }
          cancelOnDisconnect(res, job, provider);
          startSse(res, { 'X-Job-Id': jobId });
          await followed.relay(res, config.SSE_HEARTBEAT_MS);
          return;
        }
        const response = await services.generate.run(input, config.SYNC_WAIT_TIMEOUT_MS, (job) =>
          cancelOnDisconnect(res, job, provider),
        );
        res.json(response);
      },
    ] satisfies RequestHandler[];

  r.post('/generate', ...handler('claude'));
  r.post('/generate-codex', ...handler('codex'));
  return r;
}
