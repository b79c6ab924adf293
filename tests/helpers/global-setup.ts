import { Redis } from 'ioredis';

/** Fails the run at once, with a clear message, when the test Redis does not answer. */
export default async function setup(): Promise<void> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    retryStrategy: () => null,
  });
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    throw new Error(`The tests need a Redis at ${url} (set REDIS_URL): ${(err as Error).message}`);
  } finally {
    client.disconnect();
  }
}
