import { execFile } from 'node:child_process';

/** First line of `<bin> --version`, or null if it does not answer within 10 s. */
export function cliVersion(bin: string, env: Record<string, string>): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(bin, ['--version'], { timeout: 10_000, env, maxBuffer: 64 * 1024 }, (err, stdout) => {
      if (err) return resolve(null);
      resolve(stdout.trim().split('\n')[0]?.slice(0, 200) || null);
    });
  });
}
