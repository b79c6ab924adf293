import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The admin key of a single-box install that set none: generated once, kept in
 * `<DATA_DIR>/admin-key` (0600). Returns the key and where it is; the key itself is never logged.
 */
export function ensureAdminKey(dataDir: string): {
  key: string;
  file: string;
  created: boolean;
} {
  const file = join(dataDir, 'admin-key');
  if (existsSync(file)) {
    const key = readFileSync(file, 'utf8').trim();
    if (key.length >= 16) return { key, file, created: false };
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const key = `cba_${randomBytes(32).toString('base64url')}`;
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return { key, file, created: true };
}
