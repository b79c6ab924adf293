import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { createGroupReaper } from '@cli-bridge/worker';
import { isAlive, waitFor } from '../helpers/records.js';

/** A `sleep` leading its own process group, as a CLI does. */
function group(): number {
  const p = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
  p.unref();
  return p.pid!;
}
const started: number[] = [];
const newGroup = () => {
  const pid = group();
  started.push(pid);
  return pid;
};
afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

describe('group reaper', () => {
  it('kills the groups still watched when its pipe closes, and spares the released ones', async () => {
    const reaper = createGroupReaper();
    const [a, b] = [newGroup(), newGroup()];
    reaper.watch(a);
    reaper.watch(b);
    reaper.release(b);
    const watchdog = reaper.pid!;
    expect(isAlive(watchdog)).toBe(true);
    reaper.close(); // as the kernel does when the worker dies
    await waitFor(() => !isAlive(a), 3_000, 'the watched group to die');
    await waitFor(() => !isAlive(watchdog), 3_000, 'the watchdog to exit');
    expect(isAlive(b)).toBe(true);
  });

  it('starts a new watchdog if its watchdog was killed, which learns the groups still watched', async () => {
    const reaper = createGroupReaper();
    const a = newGroup();
    reaper.watch(a);
    const first = reaper.pid!;
    await new Promise((r) => setTimeout(r, 1_100)); // one that dies young is replaced later
    process.kill(first, 'SIGKILL');
    // Replaced at once, since a group is watched: no write goes to a dead pipe.
    await waitFor(() => reaper.pid !== undefined && reaper.pid !== first, 3_000, 'a new watchdog');
    expect(isAlive(first)).toBe(false);
    const c = newGroup();
    reaper.watch(c);
    reaper.close();
    await waitFor(() => !isAlive(a) && !isAlive(c), 3_000, 'both groups to die');
  });

  it('replaces a watchdog that died young at the next watch(), which learns every group', async () => {
    const reaper = createGroupReaper();
    const a = newGroup();
    reaper.watch(a);
    const first = reaper.pid!;
    process.kill(first, 'SIGKILL');
    await waitFor(() => reaper.pid === undefined, 3_000, 'the reaper to notice');
    const c = newGroup();
    reaper.watch(c);
    expect(reaper.pid).toBeDefined();
    expect(reaper.pid).not.toBe(first);
    reaper.close();
    await waitFor(() => !isAlive(a) && !isAlive(c), 3_000, 'both groups to die');
  });

  it('lets runs go on without a shell to run the watchdog', () => {
    const reaper = createGroupReaper('/nonexistent/sh');
    expect(() => reaper.watch(newGroup())).not.toThrow();
    expect(reaper.pid).toBeUndefined();
    reaper.close();
  });
});
