/**
 * The real `claude` and `codex` CLIs that some tests run, pinned in tests/real-clis/package.json
 * and installed on demand into tests/real-clis/node_modules, once. They are not part of the
 * bridge's install (`npm start` never needs them, and a fresh clone's `npm ci` does not fetch
 * them). Install scripts stay off: the tests take claude's native binary from its platform
 * package and codex has none. Several test files may ask at once: a lock directory serialises
 * the install.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Where the pinned CLIs live (a private npm project, not a workspace). */
export const REAL_CLIS_DIR = resolve(import.meta.dirname, '..', 'real-clis');
const lock = join(REAL_CLIS_DIR, '.installing');
/** A lock this old belongs to an install that died. */
const STALE_LOCK_MS = 600_000;

/** Written once `npm ci` has finished: a half-extracted install never counts. */
const done = join(REAL_CLIS_DIR, 'node_modules', '.installed');
const installed = () => existsSync(done);
const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** Installs the pinned CLIs unless they are there; blocks until they are. */
export function ensureRealClis(): void {
  if (installed()) return;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      const since = statSync(lock, { throwIfNoEntry: false })?.mtimeMs;
      if (since !== undefined && Date.now() - since > STALE_LOCK_MS)
        rmSync(lock, { recursive: true, force: true });
      sleep(500);
      if (installed()) return;
    }
  }
  try {
    if (installed()) return;
    process.stderr.write('cli-bridge tests: installing the pinned claude and codex CLIs (once)...\n');
    const npm = spawnSync(
      'npm',
      ['ci', '--prefix', REAL_CLIS_DIR, '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'],
      { stdio: 'inherit' },
    );
    if (npm.status !== 0) throw new Error(`installing the test CLIs failed (npm exit ${npm.status})`);
    writeFileSync(done, '');
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
