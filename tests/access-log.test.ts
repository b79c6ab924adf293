/**
 * The API's request id and access log line (api/src/middleware/access-log.ts), on a small Express
 * app over real HTTP (no Redis): one line per answered request with the request id, method, URL as
 * received, the job id a route noted, the status and the response time; "request errored" for a
 * 5xx, at error level unless it is an expected outage; nothing for GET /health.
 */
import type { AddressInfo } from 'node:net';
import { createLogger } from '@cli-bridge/shared';
import express, { Router, type Express } from 'express';
import { afterAll, describe, expect, it } from 'vitest';
import { accessLog } from '../api/src/middleware/access-log.js';
import { noteJob } from '../api/src/middleware/request-metrics.js';

const closers: (() => void)[] = [];
afterAll(() => closers.forEach((c) => c()));

async function listen(app: Express): Promise<string> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  closers.push(() => server.close());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('accessLog', async () => {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'info',
    name: 'api',
    destination: { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) } as never,
  });
  const app = express();
  app.use(accessLog(logger));
  app.get('/health', (_req, res) => void res.json({ ok: true }));
  const mounted = Router();
  mounted.post('/jobs', (req, res) => {
    noteJob(res, { id: 'claude_job1', data: { provider: 'claude', model: 'sonnet' } });
    res.status(202).json({ id: req.id });
  });
  app.use('/api', mounted);
  app.get('/down', (_req, res) => void res.status(503).end());
  app.get('/broken', (_req, res) => void res.status(500).end());
  const url = await listen(app);
  /** The line of the request with this id, once written. */
  const lineOf = async (id: string) => {
    for (let i = 0; i < 100; i++) {
      const line = lines.find((l) => (l.req as { id?: string } | undefined)?.id === id);
      if (line) return line;
      await new Promise((r) => setImmediate(r));
    }
    throw new Error(`no access log line for ${id}`);
  };

  it('writes one line per request, with the job id a route noted, and echoes the request id', async () => {
    const res = await fetch(`${url}/api/jobs?x=1`, { method: 'POST', headers: { 'x-request-id': 'req-1' } });
    expect(res.status).toBe(202);
    expect(res.headers.get('x-request-id')).toBe('req-1');
    expect(await res.json()).toEqual({ id: 'req-1' });
    const line = await lineOf('req-1');
    expect(line).toMatchObject({
      level: 30,
      name: 'api',
      component: 'http',
      req: { id: 'req-1', method: 'POST', url: '/api/jobs?x=1' },
      jobId: 'claude_job1',
      res: { statusCode: 202 },
      msg: 'request completed',
    });
    expect(typeof line.responseTime).toBe('number');
    expect(lines.filter((l) => (l.req as { id?: string }).id === 'req-1')).toHaveLength(1);
  });

  it("never writes a header, a cookie or the body (its lines skip the logger's redaction)", async () => {
    const secret = 'sk-bridge-access-log-secret';
    const res = await fetch(`${url}/api/jobs?limit=1`, {
      method: 'POST',
      headers: {
        'x-request-id': 'req-secret',
        authorization: `Bearer ${secret}`,
        'x-api-key': secret,
        cookie: `cb_admin=${secret}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ key: secret, systemPrompt: secret, userPrompt: secret }),
    });
    expect(res.status).toBe(202);
    const line = await lineOf('req-secret');
    expect(JSON.stringify(line)).not.toContain(secret);
    // Exactly the documented fields, nothing a request could add.
    expect(Object.keys(line).sort()).toEqual(
      ['component', 'jobId', 'level', 'msg', 'name', 'pid', 'req', 'res', 'responseTime', 'time'].sort(),
    );
    expect(Object.keys(line.req as object).sort()).toEqual(['id', 'method', 'url']);
  });

  it('gives a request without a sane x-request-id a UUID', async () => {
    const res = await fetch(`${url}/down`, { headers: { 'x-request-id': 'bad id' } });
    const id = res.headers.get('x-request-id')!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await lineOf(id)).toMatchObject({ level: 30, res: { statusCode: 503 }, msg: 'request errored' });
  });

  it('logs an unexpected 5xx at error level', async () => {
    const res = await fetch(`${url}/broken`, { headers: { 'x-request-id': 'req-500' } });
    expect(res.status).toBe(500);
    expect(await lineOf('req-500')).toMatchObject({
      level: 50,
      res: { statusCode: 500 },
      err: { message: 'failed with status code 500' },
      msg: 'request errored',
    });
  });

  it('does not log GET /health', async () => {
    const res = await fetch(`${url}/health`, { headers: { 'x-request-id': 'req-health' } });
    expect(res.headers.get('x-request-id')).toBe('req-health');
    await fetch(`${url}/api/jobs`, { method: 'POST', headers: { 'x-request-id': 'req-after' } });
    await lineOf('req-after');
    expect(lines.some((l) => (l.req as { id?: string }).id === 'req-health')).toBe(false);
  });
});
