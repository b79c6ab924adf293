/**
 * What `npm start` installs on a fresh clone (`npm ci` from the lockfile): the bridge's own
 * dependencies only, under 200 MB, with no install-script warning. The real CLIs that some tests
 * run are not among them (tests/helpers/install-clis.ts installs those on demand).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/env.js';

const CLI_PACKAGE = /(^|\/)@(anthropic-ai\/claude-code|openai\/codex)(-[a-z0-9-]+)?$/;
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { hasInstallScript?: boolean; dev?: boolean }>;
};

/** Bytes of all files under `dir` (links not followed). */
function sizeOf(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += sizeOf(p);
    else if (e.isFile()) total += statSync(p).size;
  }
  return total;
}

describe("npm start's install", () => {
  it('locks no CLI package', () => {
    const clis = Object.keys(lock.packages).filter((p) =>
      CLI_PACKAGE.test(p.replace(/^.*node_modules\//, '')),
    );
    expect(clis).toEqual([]);
  });

  it('has no package whose install script npm would warn about', () => {
    const allowed = (
      JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { allowScripts?: object }
    ).allowScripts;
    const scripted = Object.entries(lock.packages)
      .filter(([, p]) => p.hasInstallScript)
      .map(([path]) => path.replace(/^.*node_modules\//, ''));
    expect(scripted.filter((name) => !(name in (allowed ?? {})))).toEqual([]);
  });

  it('is under 200 MB, without the CLIs', () => {
    const modules = join(ROOT, 'node_modules');
    // The tests' SDK clients (@anthropic-ai/sdk, openai) are there; no CLI package is.
    const scope = join(modules, '@anthropic-ai');
    const anthropicPackages = readdirSync(modules).includes('@anthropic-ai') ? readdirSync(scope) : [];
    expect(anthropicPackages.filter((n) => n.startsWith('claude-code'))).toEqual([]);
    expect(readdirSync(modules).includes('@openai')).toBe(false);
    const mb = sizeOf(modules) / 1024 / 1024;
    expect(mb).toBeLessThan(200);
  });
});
