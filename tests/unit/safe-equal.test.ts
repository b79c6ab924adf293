/**
 * The admin key is compared in constant time: `safeEqual` hashes both sides to 32 bytes and
 * compares the digests with crypto.timingSafeEqual (so neither the content nor the length of the
 * secret shows in the timing), and `requireAdmin` compares through `safeEqual`, never `===`.
 */
import type * as crypto from 'node:crypto';
import { createHash, timingSafeEqual } from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type * as shared from '@cli-bridge/shared';
import { BridgeError, redisKeys, safeEqual } from '@cli-bridge/shared';
import { requireAdmin } from '../../api/src/middleware/auth.js';

// Spies that still do the real work.
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof crypto>();
  return { ...real, timingSafeEqual: vi.fn(real.timingSafeEqual), createHash: vi.fn(real.createHash) };
});
vi.mock('@cli-bridge/shared', async (importOriginal) => {
  const real = await importOriginal<typeof shared>();
  return { ...real, safeEqual: vi.fn(real.safeEqual) };
});

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

beforeEach(() => {
  vi.mocked(timingSafeEqual).mockClear();
  vi.mocked(safeEqual).mockClear();
});

describe('safeEqual', () => {
  it('tells equal from different strings, whatever their lengths', () => {
    const secret = 'admin-key-0123456789abcdef';
    expect(safeEqual(secret, secret)).toBe(true);
    expect(safeEqual(secret, secret.slice(0, -1) + 'X')).toBe(false); // same length
    expect(safeEqual(secret, 'short')).toBe(false); // raw timingSafeEqual would throw here
    expect(safeEqual(secret, secret + secret)).toBe(false);
    expect(safeEqual('', secret)).toBe(false);
    expect(safeEqual('é', 'e\u0301')).toBe(false); // compared as UTF-8 bytes, not normalised
  });

  it('compares the SHA-256 digests of both sides with crypto.timingSafeEqual', () => {
    const a = 'admin-key-0123456789abcdef';
    const b = 'a much longer value than the secret itself, of another length';
    safeEqual(a, b);
    expect(timingSafeEqual).toHaveBeenCalledTimes(1);
    const [x, y] = vi.mocked(timingSafeEqual).mock.calls[0]!;
    // Fixed-length inputs: the lengths of the originals cannot show.
    expect(Buffer.from(x as Uint8Array)).toEqual(sha256(a));
    expect(Buffer.from(y as Uint8Array)).toEqual(sha256(b));
  });
});

describe('requireAdmin', () => {
  const ADMIN = 'admin-key-0123456789abcdef';
  /** Runs the middleware on a request bearing `authorization`; returns what it did. */
  async function run(authorization: string | undefined) {
    const req = {
      ip: '127.0.0.1',
      headers: {},
      get: (h: string) => (h.toLowerCase() === 'authorization' ? authorization : undefined),
    };
    const next = vi.fn();
    // A failed attempt is counted in Redis: this stand-in answers as the counting script does.
    const redis = { evalsha: vi.fn(async () => ['unknown_key']) };
    const middleware = requireAdmin({
      adminKey: ADMIN,
      config: { AUTH_FAILURE_LIMIT: 10, RATE_LIMIT_WINDOW_MS: 60_000 },
      redis: redis as never,
      keys: redisKeys('unit'),
      // No cookie is sent: the session store is never asked.
      sessions: {} as never,
    });
    let thrown: unknown;
    try {
      await middleware(req as never, {} as never, next);
    } catch (err) {
      thrown = err;
    }
    return { next, thrown, counted: redis.evalsha.mock.calls.length };
  }

  it('lets the admin key through, compared with safeEqual', async () => {
    const { next, thrown, counted } = await run(`Bearer ${ADMIN}`);
    expect(thrown).toBeUndefined();
    expect(counted).toBe(0);
    expect(next).toHaveBeenCalledTimes(1);
    expect(safeEqual).toHaveBeenCalledWith(ADMIN, ADMIN);
  });

  it('refuses another key, compared with safeEqual too, and counts the failure', async () => {
    const wrong = ADMIN.slice(0, -1) + 'X';
    const { next, thrown, counted } = await run(`Bearer ${wrong}`);
    expect(counted).toBe(1);
    expect(next).not.toHaveBeenCalled();
    expect(thrown).toBeInstanceOf(BridgeError);
    expect((thrown as BridgeError).type).toBe('unauthorized');
    expect(safeEqual).toHaveBeenCalledWith(wrong, ADMIN);
    expect(timingSafeEqual).toHaveBeenCalled();
  });
});
