import { connect } from 'node:net';

/** True when something answers a Redis PING at host:port within `timeoutMs`. */
export function redisAnswers(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.on('error', () => done(false));
    sock.on('connect', () => sock.write('PING\r\n'));
    // +PONG, or -NOAUTH from a password-protected server: either way a Redis is there.
    sock.on('data', (d) => done(/^[+-]/.test(d.toString())));
  });
}

export async function waitForRedis(host: string, port: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await redisAnswers(host, port, 500)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
