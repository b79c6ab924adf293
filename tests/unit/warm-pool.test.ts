/**
 * The warm pool's caps and eviction order, on real processes (`cat`, waiting on stdin like a CLI)
 * with a stand-in for the RSS reading so the memory arithmetic is exact.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, type Provider } from '@cli-bridge/shared';
import {
  createWarmPool,
  procTreeRssBytes,
  procRssBytes,
  startCli,
  type WarmPool,
  type WarmProcess,
} from '@cli-bridge/worker';
import { isAlive, waitFor } from '../helpers/records.js';

const logger = createLogger({ level: 'silent', name: 'test' });
const MiB = 1024 * 1024;
const pools: WarmPool<string>[] = [];
const taken: WarmProcess<string>[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.close();
  for (const t of taken.splice(0)) await t.dispose();
});

/** `take`, keeping what it returns for disposal after the test. */
function take(p: WarmPool<string>, key: string) {
  const got = p.take(key);
  if (got) taken.push(got);
  return got;
}

/** A child of `ppid`, from /proc. */
/** A process's command name (empty once it is gone). */
function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** A process's state letter (`S` = sleeping; empty once it is gone). */
function state(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2);
  } catch {
    return '';
  }
}

function childPid(ppid: number): number | undefined {
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) return Number(e);
    } catch {
      // gone
    }
  }
  return undefined;
}

/** Pids of the cat processes this file started that are still alive. */
const started: number[] = [];
const alive = (_p: WarmPool<string>) => started.filter((pid) => isAlive(pid));

function catProcess(tag: string): Promise<WarmProcess<string>> {
  const cli = startCli({
    bin: 'cat',
    args: [],
    cwd: tmpdir(),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  });
  if (cli.pid) started.push(cli.pid);
  return Promise.resolve({ cli, meta: tag, dispose: () => cli.kill() });
}

function pool(opts: Partial<Parameters<typeof createWarmPool>[0]> = {}) {
  const p = createWarmPool<string>({
    maxTotal: 8,
    perKey: 1,
    maxRssBytes: 1e12,
    idleMs: 60_000,
    concurrency: () => 8,
    busy: () => 0,
    logger,
    sweepMs: 20,
    ...opts,
  });
  pools.push(p);
  return p;
}

const fill = (p: WarmPool<string>, key: string, provider: Provider = 'claude') =>
  p.fill(key, provider, () => catProcess(key));
const ready = (p: WarmPool<string>, size: number) =>
  waitFor(() => p.stats().size === size && p.stats(), 2_000, `pool size ${size}`);

describe('warm pool', () => {
  it('hands a process out once; the key then has none until filled again', async () => {
    const p = pool();
    fill(p, 'a');
    await ready(p, 1);
    const got = take(p, 'a');
    expect(got?.meta).toBe('a');
    expect(take(p, 'a')).toBeUndefined();
    expect(p.stats()).toMatchObject({ hits: 1, misses: 1, size: 0 });
    // It is the caller's now: running it is up to the caller, and it was not killed.
    expect(isAlive(got!.cli.pid!)).toBe(true);
  });

  it('evicts the least recently used key to stay within the memory budget', async () => {
    // Every process "weighs" 100 MiB; the budget holds two.
    const p = pool({ maxRssBytes: 250 * MiB, readRssBytes: () => 100 * MiB });
    fill(p, 'a');
    await ready(p, 1);
    fill(p, 'b');
    await ready(p, 2);
    await waitFor(() => p.stats().rssMb === 200, 2_000, 'a sweep measuring both');
    fill(p, 'c');
    await waitFor(() => p.stats().evictions === 1, 2_000, 'an eviction');
    await ready(p, 2);
    expect(take(p, 'a')).toBeUndefined();
    expect(take(p, 'b')).toBeDefined();
    expect(take(p, 'c')).toBeDefined();
  });

  it('never holds more than the concurrency left over by running jobs', async () => {
    let busy = 2;
    const p = pool({ concurrency: () => 2, busy: () => busy });
    fill(p, 'a');
    expect(p.stats()).toMatchObject({ size: 0, starting: 0 }); // every slot busy: no warm start
    busy = 1;
    fill(p, 'a');
    await ready(p, 1);
    const first = p.take('a')!;
    p.putBack('a', 'claude', first); // given back unused (its job did not run)
    fill(p, 'b'); // 1 running + a waiting = 2: a goes to make room for b
    await waitFor(() => p.stats().evictions === 1, 2_000, 'the eviction');
    await ready(p, 1);
    await waitFor(() => !isAlive(first.cli.pid!), 2_000, 'the evicted process to die');
    expect(take(p, 'b')).toBeDefined();
  });

  it('kills a process left waiting past idleMs', async () => {
    const p = pool({ idleMs: 50 });
    fill(p, 'a');
    await ready(p, 1);
    const [proc] = [...alive(p)];
    await waitFor(() => p.stats().evictions === 1 && p.stats().size === 0, 2_000, 'the idle eviction');
    if (proc) await waitFor(() => !isAlive(proc), 2_000, 'the process to die');
  });

  it('is off with maxTotal 0', async () => {
    const p = pool({ maxTotal: 0 });
    fill(p, 'a');
    expect(p.take('a')).toBeUndefined();
    expect(p.stats()).toEqual({
      size: 0,
      starting: 0,
      hits: 0,
      misses: 0,
      evictions: 0,
      discarded: 0,
      rssMb: 0,
    });
  });

  it('reads the RSS of a process and its children from /proc', async () => {
    expect(procRssBytes(process.pid)).toBeGreaterThan(10 * MiB);
    expect(procRssBytes(2 ** 22 + 12345)).toBeUndefined();
    // A shell with a child `cat`: the tree is more than the shell.
    const cli = startCli({
      bin: '/bin/sh',
      args: ['-c', 'cat; exit 0'],
      cwd: tmpdir(),
      env: { PATH: '/usr/bin:/bin' },
    });
    const pgid = cli.pid!;
    // Once the child runs `cat` (blocked on stdin), not while it is still the shell's fork on its
    // way to exec: only then do the sizes hold still between the reads below.
    const child = await waitFor(
      () => {
        const pid = childPid(pgid);
        return pid !== undefined && comm(pid) === 'cat' && state(pid) === 'S' ? pid : undefined;
      },
      2_000,
      'the child in the group, waiting in cat',
    );
    const group = procTreeRssBytes(pgid)!;
    expect(group).toBeGreaterThanOrEqual(procRssBytes(pgid)! + procRssBytes(child)!);
    await cli.kill();
    expect(procTreeRssBytes(pgid)).toBeUndefined();
  });
});
