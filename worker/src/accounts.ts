/**
 * The CLI accounts a worker serves per provider (CLAUDE_ACCOUNTS / CODEX_ACCOUNTS), each with its
 * own config directory handed to its CLI as data (`CLAUDE_CONFIG_DIR` / `CODEX_HOME` in the run's
 * environment), and how each is billed: a subscription login or an API key.
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_ACCOUNT, type AuthMode, type Config, type Provider } from '@cli-bridge/shared';

export interface WorkerAccount {
  provider: Provider;
  name: string;
  /** Added to the CLI's environment: the account's config directory (empty for `default`). */
  env: Record<string, string>;
  /** Parallel runs on this account in this worker. */
  concurrency: number;
}

/** The variable that points each CLI at an account's config directory. */
export const CONFIG_DIR_VAR: Readonly<Record<Provider, string>> = {
  claude: 'CLAUDE_CONFIG_DIR',
  codex: 'CODEX_HOME',
};

/** The variable holding an API key that bills the provider's runs at API prices. */
const API_KEY_VAR: Readonly<Record<Provider, string>> = {
  claude: 'ANTHROPIC_API_KEY',
  codex: 'OPENAI_API_KEY',
};

export function workerAccounts(
  provider: Provider,
  config: Pick<
    Config,
    'CLAUDE_ACCOUNTS' | 'CODEX_ACCOUNTS' | 'WORKER_CONCURRENCY_CLAUDE' | 'WORKER_CONCURRENCY_CODEX'
  >,
): WorkerAccount[] {
  const specs = provider === 'claude' ? config.CLAUDE_ACCOUNTS : config.CODEX_ACCOUNTS;
  const concurrency =
    provider === 'claude' ? config.WORKER_CONCURRENCY_CLAUDE : config.WORKER_CONCURRENCY_CODEX;
  if (specs.length === 0) return [{ provider, name: DEFAULT_ACCOUNT, env: {}, concurrency }];
  return specs.map((s) => ({
    provider,
    name: s.name,
    env: { [CONFIG_DIR_VAR[provider]]: s.dir },
    concurrency: s.concurrency ?? concurrency,
  }));
}

export interface AccountAuth {
  mode: AuthMode;
  /** Set when an API key in the environment takes precedence over a subscription login. */
  warning?: string;
}

/** Whether a codex auth.json holds a ChatGPT login (tokens) or an API key. */
function codexAuthFile(dir: string): { login: boolean; apiKey: boolean } {
  try {
    const auth = JSON.parse(readFileSync(join(dir, 'auth.json'), 'utf8')) as Record<string, unknown>;
    return { login: Boolean(auth.tokens), apiKey: typeof auth.OPENAI_API_KEY === 'string' };
  } catch {
    return { login: false, apiKey: false };
  }
}

/**
 * How an account's CLI is billed, read from what it will run with: an API key variable in the
 * environment (ANTHROPIC_API_KEY / OPENAI_API_KEY), an OAuth token (CLAUDE_CODE_OAUTH_TOKEN), or
 * the config directory's credentials file (claude `.credentials.json`, codex `auth.json`).
 * Claude gives an API key precedence over its login: that is worth a loud warning.
 */
export function accountAuth(
  account: WorkerAccount,
  baseEnv: Record<string, string | undefined>,
): AccountAuth {
  const env = { ...baseEnv, ...account.env };
  const keyVar = API_KEY_VAR[account.provider];
  const hasKey = Boolean(env[keyVar]);
  if (account.provider === 'claude') {
    const dir = env.CLAUDE_CONFIG_DIR || join(env.HOME || homedir(), '.claude');
    const login = Boolean(env.CLAUDE_CODE_OAUTH_TOKEN) || existsSync(join(dir, '.credentials.json'));
    if (hasKey && login) {
      return {
        mode: 'api_key',
        warning: `${keyVar} is set: claude bills every run of account "${account.name}" to that key at API prices, not to its subscription login`,
      };
    }
    return { mode: hasKey ? 'api_key' : login ? 'subscription' : 'unknown' };
  }
  const dir = env.CODEX_HOME || join(env.HOME || homedir(), '.codex');
  const file = codexAuthFile(dir);
  if (file.login && (hasKey || file.apiKey)) {
    return {
      mode: 'api_key',
      warning: `an OpenAI API key is present for codex account "${account.name}" beside its ChatGPT login: runs may be billed to the key`,
    };
  }
  return { mode: file.login ? 'subscription' : hasKey || file.apiKey ? 'api_key' : 'unknown' };
}
