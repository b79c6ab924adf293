import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

/** The executable `bin` resolves to: itself if it is a path, else the first match on PATH. */
export function resolveBin(bin: string, pathEnv: string | undefined): string | undefined {
  const candidates = bin.includes('/')
    ? [bin]
    : (pathEnv ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((d) => join(d, bin));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return isAbsolute(c) ? c : resolve(c);
    } catch {
      // not here
    }
  }
  return undefined;
}
