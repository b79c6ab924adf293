import { ACCOUNT_NAME, BridgeError, PROVIDERS, type Provider } from '@cli-bridge/shared';
import { Router } from 'express';
import type { AppDeps } from '../deps.js';

/** The provider named in a path; an unknown one is 404 like any unknown resource. */
export function providerParam(raw: string | string[] | undefined): Provider {
  const name = String(raw);
  if (!(PROVIDERS as readonly string[]).includes(name))
    throw new BridgeError('not_found', `No provider named "${name}" (known: ${PROVIDERS.join(', ')})`);
  return name as Provider;
}

/** `?account=`: an account name, or absent (every account). */
function accountQuery(raw: unknown): string | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !ACCOUNT_NAME.test(raw)) {
    throw new BridgeError('invalid_request', 'account must be 1-50 of A-Z a-z 0-9 _ -', {
      details: { field: 'account' },
    });
  }
  return raw;
}

/** Queues (counts, pause/resume, holds) and workers (mounted under /admin, behind the admin check). */
export function adminQueueRoutes({ services }: AppDeps): Router {
  const r = Router();
  const queues = services.adminQueues;

  r.get('/queues', async (_req, res) => {
    res.json({ queues: await queues.list() });
  });
  r.post('/queues/:provider/pause', async (req, res) => {
    res.json(await queues.pause(providerParam(req.params.provider)));
  });
  r.post('/queues/:provider/resume', async (req, res) => {
    res.json(await queues.resume(providerParam(req.params.provider)));
  });
  // ?account=name lifts that account's hold only; without it, every account's.
  r.post('/queues/:provider/clear-hold', async (req, res) => {
    const provider = providerParam(req.params.provider);
    res.json(await queues.clearHold(provider, accountQuery(req.query.account)));
  });

  r.get('/workers', async (_req, res) => {
    res.json({ workers: await services.adminWorkers.list() });
  });

  return r;
}
