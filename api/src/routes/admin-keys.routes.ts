import { BridgeError, KEY_NAME } from '@cli-bridge/shared';
import { Router } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../app.js';
import { parseBody } from '../validate.js';

const createKeySchema = z.object({
  name: z
    .string({ error: 'name must be a string' })
    .regex(KEY_NAME, 'name must be 1-50 characters of A-Z a-z 0-9 _ -'),
});

/** Admin key management (mounted under /admin, behind the admin check). */
export function adminKeyRoutes({ services }: AppDeps): Router {
  const r = Router();

  r.post('/keys', async (req, res) => {
    const { name } = parseBody(createKeySchema, req.body);
    const created = await services.keyStore.create(name);
    if (!created) throw new BridgeError('conflict', `A key named "${name}" already exists`);
    const { hash: _hash, ...visible } = created.record;
    res.status(201).json({ ...visible, key: created.rawKey });
  });

  r.get('/keys', async (_req, res) => {
    const keys = await services.keyStore.list();
    res.json({ keys: keys.map(({ hash: _hash, ...visible }) => visible) });
  });

  return r;
}
