import { BridgeError, KEY_NAME, limitsInputSchema, PROVIDERS } from '@cli-bridge/shared';
import { Router } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps.js';
import type { KeyRecord } from '../services/key-store.js';
import { jsonBody } from '../middleware/body.js';
import { parseBody, parseQuery } from '../validate.js';

const createKeySchema = z
  .object({
    name: z
      .string({ error: 'name must be a string' })
      .regex(KEY_NAME, 'name must be 1-50 characters of A-Z a-z 0-9 _ -'),
  })
  .extend(limitsInputSchema.shape)
  .strict();

const updateKeySchema = limitsInputSchema.strict();

const logsQuerySchema = z.object({
  key: z.string().regex(KEY_NAME, 'key must be a key name').optional(),
  limit: z.coerce
    .number({ error: 'limit must be a number' })
    .int('limit must be a whole number')
    .min(1, 'limit must be 1-500')
    .max(500, 'limit must be 1-500')
    .default(50),
  offset: z.coerce
    .number({ error: 'offset must be a number' })
    .int('offset must be a whole number')
    .min(0, 'offset must be 0 or more')
    .max(10_000_000, 'offset is too large')
    .default(0),
  status: z
    .enum(['completed', 'failed', 'cancelled'], { error: 'status must be completed, failed or cancelled' })
    .optional(),
  provider: z.enum(PROVIDERS, { error: 'provider must be claude or codex' }).optional(),
  model: z.string().max(200, 'model must be at most 200 characters').optional(),
});

/** Admin key management and logs (mounted under /admin, behind the admin check). */
export function adminKeyRoutes({ services, config }: AppDeps): Router {
  const r = Router();
  r.use(jsonBody(config));
  const store = services.keyStore;

  const withUsage = async (rec: KeyRecord, total = false) => {
    const usage = await store.usage(rec.id);
    return {
      ...rec,
      usage: total ? usage : { today: usage.today, month: usage.month },
      active: await services.leases.active(rec.id),
    };
  };
  const mustExist = (rec: KeyRecord | null, name: string): KeyRecord => {
    if (!rec) throw new BridgeError('not_found', `No key named "${name}"`);
    return rec;
  };
  const keyName = (raw: string | string[] | undefined): string => {
    const name = String(raw);
    if (!KEY_NAME.test(name)) throw new BridgeError('not_found', `No key named "${name}"`);
    return name;
  };

  r.post('/keys', async (req, res) => {
    const { name, ...limits } = parseBody(createKeySchema, req.body);
    const created = await store.create(name, limits);
    if (!created) throw new BridgeError('conflict', `A key named "${name}" already exists`);
    // The only response that ever carries the raw key.
    res.status(201).json({ ...created.record, key: created.rawKey });
  });

  r.get('/keys', async (_req, res) => {
    const list = await store.list();
    res.json({ keys: await Promise.all(list.map((k) => withUsage(k))) });
  });

  r.get('/keys/:name', async (req, res) => {
    const name = keyName(req.params.name);
    res.json(await withUsage(mustExist(await store.get(name), name), true));
  });

  r.patch('/keys/:name', async (req, res) => {
    const name = keyName(req.params.name);
    const limits = parseBody(updateKeySchema, req.body);
    res.json(await withUsage(mustExist(await store.update(name, limits), name)));
  });

  r.delete('/keys/:name', async (req, res) => {
    const name = keyName(req.params.name);
    const removed = await store.remove(name);
    if (!removed) throw new BridgeError('not_found', `No key named "${name}"`);
    // Its queued jobs never run; its running ones are stopped.
    await services.jobs.cancelAll(removed.jobIds);
    res.json({ name, id: removed.id, revoked: true });
  });

  r.post('/keys/:name/reset-usage', async (req, res) => {
    const name = keyName(req.params.name);
    const rec = mustExist(await store.get(name), name);
    await store.resetUsage(rec.id);
    res.json(await withUsage(rec, true));
  });

  r.get('/logs', async (req, res) => {
    const q = parseQuery(logsQuerySchema, req.query);
    // A key's own log is found by its name while it lives; a revoked key's entries stay in the
    // global log (each names its key and key id).
    const keyId = q.key === undefined ? undefined : ((await store.idOf(q.key)) ?? undefined);
    if (q.key !== undefined && !keyId) return res.json({ logs: [], next_offset: null });
    const { logs, more } = await services.logs.find({
      keyId,
      limit: q.limit,
      offset: q.offset,
      filter: { status: q.status, provider: q.provider, model: q.model },
    });
    res.json({ logs, next_offset: more ? q.offset + logs.length : null });
  });

  return r;
}
