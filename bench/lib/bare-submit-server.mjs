// The baseline for submit-throughput: a bare Express app whose POST /jobs does what an async
// submit minimally must (parse JSON, BullMQ queue.add with the bridge's default job options,
// answer 202 {id, status}), and nothing else: no auth, no logging, no validation.
// Run as its own process: env REDIS_URL, REDIS_PREFIX; prints {"url": ...} on stdout when ready.
import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import express from 'express';
import { defaultJobOptions, loadConfig } from '@cli-bridge/shared';

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

const app = express();
app.use(express.json({ limit: config.BODY_LIMIT_BYTES }));
app.post('/jobs', async (req, res) => {
  try {
    const b = req.body ?? {};
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
      { jobId: randomUUID() },
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
  process.exit(0);
});
