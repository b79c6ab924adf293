import { BridgeError, generateRequestSchema, type Provider } from '@cli-bridge/shared';
import { Router, type RequestHandler } from 'express';
import type { AppDeps } from '../app.js';
import { requireUserKey } from '../middleware/auth.js';
import { parseBody } from '../validate.js';

/** POST /generate (Claude) and POST /generate-codex: enqueue, wait, answer. */
export function generateRoutes({ config, services }: AppDeps): Router {
  const r = Router();
  const auth = requireUserKey(services.keyStore);

  const handler = (provider: Provider) =>
    [
      auth,
      async (req, res) => {
        const request = parseBody(generateRequestSchema, req.body);
        if (request.stream) {
          throw new BridgeError('invalid_request', 'Streaming is not available yet: omit "stream"', {
            details: { field: 'stream' },
          });
        }
        const job = await services.generate.submit({
          provider,
          request,
          keyName: req.keyName!,
          requestId: String(req.id),
        });
        // 'close' on the response fires for a finished answer and for a vanished client alike.
        res.on('close', () => {
          if (!res.writableFinished) void services.generate.abandon(provider, job);
        });
        const response = await services.generate.waitForResult(provider, job, config.SYNC_WAIT_TIMEOUT_MS);
        res.json(response);
      },
    ] satisfies RequestHandler[];

  r.post('/generate', ...handler('claude'));
  r.post('/generate-codex', ...handler('codex'));
  return r;
}
