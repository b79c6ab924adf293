import { generateRequestSchema, type Provider } from '@cli-bridge/shared';
import { Router, type RequestHandler } from 'express';
import type { AppDeps } from '../deps.js';
import { createJobRunner } from '../job-runner.js';
import { jsonBody } from '../middleware/body.js';
import { requireAdmittedUserKey } from '../middleware/auth.js';
import { markStage } from '../middleware/trace.js';
import { parseBody } from '../validate.js';

/**
 * POST /generate (Claude) and POST /generate-codex: enqueue, then wait and answer, or stream
 * (`"stream": true`, SSE). A client that goes away takes its job with it (CANCEL_ON_DISCONNECT).
 */
export function generateRoutes(deps: AppDeps): Router {
  const { config, services } = deps;
  const r = Router();
  // Every request here goes through admission, so a cached key lookup is safe (auth.ts).
  const auth = requireAdmittedUserKey(services.auth);
  const body = jsonBody(config);
  const runner = createJobRunner(deps);

  // TRACE_STAGES marks the steps in between; off, the chain is exactly auth, body, handler.
  const mark = (name: string): RequestHandler[] => (config.TRACE_STAGES ? [markStage(name)] : []);

  const handler = (provider: Provider) =>
    [
      ...mark('routed'),
      auth,
      ...mark('authed'),
      body,
      ...mark('bodyRead'),
      async (req, res) => {
        const request = parseBody(generateRequestSchema, req.body);
        req.trace?.mark('validated');
        const input = {
          provider,
          request,
          caller: { keyId: req.keyId!, keyName: req.keyName! },
          requestId: String(req.id),
          trace: req.trace,
        };
        if (request.stream) return runner.stream(input, res);
        res.json(await runner.sync(input, res));
      },
    ] satisfies RequestHandler[];

  r.post('/generate', ...handler('claude'));
  r.post('/generate-codex', ...handler('codex'));
  return r;
}
