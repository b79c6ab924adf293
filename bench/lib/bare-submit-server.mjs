// The baseline for submit-throughput: a bare Express app whose POST /jobs does what an async
// submit minimally must (parse JSON, BullMQ queue.add with the bridge's default job options,
// answer 202 {id, status}), and nothing else: no auth, no logging, no validation.
// Run as its own process: env REDIS_URL, REDIS_PREFIX; prints {"url": ...} on stdout when ready.
//
// For `submit-throughput --ablation`, two of the bridge's own parts can be added, one at a time,
// to see what each costs in throughput (never part of the baseline itself):
// - BARE_ADMIT_PREFIX + BARE_ADMIT_KEY_ID: the bridge's admission (shared/src/admission.ts, the
//   same script and settings as an async submit) for that key of that bridge, before the add;
// - BARE_LOG=1: the API's own access log middleware (api/src/middleware/access-log.ts: request
//   id, one line per request) over the bridge's logger (shared/src/logger.ts).
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import express from 'express';
import { Redis } from 'ioredis';
import {
  admissionSettings,
  createAdmission,
  createLogger,
  defaultJobOptions,
  loadConfig,
  redisKeys,
} from '@cli-bridge/shared';
import { accessLog } from '../../api/dist/middleware/access-log.js';

const config = loadConfig({ REDIS_URL: process.env.REDIS_URL, REDIS_PREFIX: process.env.REDIS_PREFIX });
const u = new URL(config.REDIS_URL);
const queue = new Queue('claude', {
  connection: {
    host: u.hostname,
    port: Number(u.port || 6379),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  },
  prefix: config.REDIS_PREFIX,
  defaultJobOptions: defaultJobOptions(config),
});
queue.on('error', () => {});
await queue.waitUntilReady();

let admit;
let admitRedis;
if (process.env.BARE_ADMIT_PREFIX) {
  admitRedis = new Redis(config.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  const admission = createAdmission({
    redis: admitRedis,
    keys: redisKeys(process.env.BARE_ADMIT_PREFIX),
    waitListKey: () => queue.toKey('wait'),
    ...admissionSettings({ ...config, MAX_QUEUED_PER_KEY: 0, MAX_QUEUED_PER_PROVIDER: 0 }),
  });
  const caller = { keyId: process.env.BARE_ADMIT_KEY_ID, keyName: 'bench' };
  admit = (jobId) => admission.admit(caller, 'claude', jobId);
}
const app = express();
if (process.env.BARE_LOG) app.use(accessLog(createLogger({ level: 'info', name: 'bare' })));
app.use(express.json({ limit: config.BODY_LIMIT_BYTES }));
app.post('/jobs', async (req, res) => {
  try {
    const b = req.body ?? {};
    const jobId = randomUUID();
    await admit?.(jobId);
    const job = await queue.add(
      'generate',
      {
        v: 1,
        provider: 'claude',
        keyName: 'bench',
        systemPrompt: b.systemPrompt,
        userPrompt: b.userPrompt,
        model: b.model ?? 'sonnet',
        stream: false,
        submittedAt: Date.now(),
      },
      { jobId },
    );
    res.status(202).json({ id: job.id, status: 'queued' });
  } catch (err) {
    res.status(503).json({ error: { type: 'unavailable', message: String(err?.message ?? err) } });
  }
});
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` }) + '\n');
});
process.on('SIGTERM', async () => {
  server.close();
  server.closeAllConnections();
  await queue.close();
  admitRedis?.disconnect();
  process.exit(0);
});
