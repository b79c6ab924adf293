/**
 * The one configuration schema. Every process parses `process.env` exactly once, in its `main.ts`,
 * with `loadConfig()`; everything else receives the parsed `Config`. `.env.example` mirrors this
 * file line by line (a test keeps them in step).
 */
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { PROVIDERS } from './providers.js';

/** An empty or blank variable counts as unset, as in `.env` files (`NAME=`). */
function blankToUndefined(v: unknown): unknown {
  return typeof v === 'string' && v.trim() === '' ? undefined : v;
}

/** An integer in [min, max]; unset or blank = `def`. One message names the rule, whatever broke it. */
const int = (name: string, min: number, max: number, def: number) => {
  const error = `${name} must be an integer ${min}-${max}`;
  return z.preprocess(
    blankToUndefined,
    z.coerce.number({ error }).int({ error }).min(min, { error }).max(max, { error }).default(def),
  );
};

/** US dollars, 0-`max`; unset or blank = `def`. */
const usd = (name: string, max: number, def: number) => {
  const error = `${name} must be an amount of US dollars, 0-${max}`;
  return z.preprocess(
    blankToUndefined,
    z.coerce.number({ error }).min(0, { error }).max(max, { error }).default(def),
  );
};

/** A trimmed string; unset or blank = `def`. */
const str = (def: string) => z.preprocess(blankToUndefined, z.string().trim().default(def));

/** Comma-separated list; blank entries dropped; unset or blank = `def`. */
const list = (def: string[]) =>
  z.preprocess(
    blankToUndefined,
    z
      .string()
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      )
      .default(def),
  );

/** 1/true/yes/on or 0/false/no/off, any case; unset or blank = `def`. */
const bool = (name: string, def: boolean) =>
  z.preprocess(
    blankToUndefined,
    z
      .string()
      .trim()
      .pipe(
        z.stringbool({
          truthy: ['1', 'true', 'yes', 'on'],
          falsy: ['0', 'false', 'no', 'off'],
          error: `${name} must be true or false`,
        }),
      )
      .default(def),
  );

/** WORKER_PROVIDERS: a list of provider names; unset = detect the CLIs on PATH. */
const providers = list([]).pipe(
  z
    .array(
      z.enum(PROVIDERS, {
        error: (i) => `WORKER_PROVIDERS must list only ${PROVIDERS.join(', ')} (got "${String(i.input)}")`,
      }),
    )
    .transform((names) => (names.length === 0 ? undefined : [...new Set(names)])),
);

const MAX_MS = 2_147_483_647; // setTimeout's ceiling

/** REDIS_SENTINELS: `host:port,...` → the sentinels' addresses. */
const sentinels = list([]).transform((entries, ctx) => {
  const out: { host: string; port: number }[] = [];
  for (const entry of entries) {
    const m = /^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/.exec(entry);
    const port = Number(m?.[2]);
    if (!m || port < 1 || port > 65535) {
      ctx.addIssue({ code: 'custom', message: `REDIS_SENTINELS entries must be host:port (got "${entry}")` });
      return z.NEVER;
    }
    out.push({ host: m[1]!.replace(/^\[|\]$/g, ''), port });
  }
  return out;
});
/** What an account name may look like (as API key names): it is part of Redis key names. */
export const ACCOUNT_NAME = /^[A-Za-z0-9_-]{1,50}$/;

/** One logged-in CLI account a worker serves: its config directory and its own concurrency. */
export interface AccountSpec {
  name: string;
  /** CLAUDE_CONFIG_DIR (claude) or CODEX_HOME (codex) of the account; absolute. */
  dir: string;
  /** Parallel runs on this account per worker (absent: WORKER_CONCURRENCY_<PROVIDER>). */
  concurrency?: number;
}

/**
 * CLAUDE_ACCOUNTS / CODEX_ACCOUNTS: `name=/abs/dir[:N],...`; unset = the worker's own login as
 * one account named `default` (an empty list here).
 */
const accounts = (name: string) =>
  list([]).transform((entries, ctx) => {
    const out: AccountSpec[] = [];
    for (const entry of entries) {
      const m = /^([^=]+)=(\/.*?)(?::(\d+))?$/.exec(entry);
      const n = m?.[3] === undefined ? undefined : Number(m[3]);
      if (!m || !ACCOUNT_NAME.test(m[1]!) || (n !== undefined && (n < 1 || n > 256))) {
        ctx.addIssue({
          code: 'custom',
          message: `${name} entries must be name=/absolute/dir or name=/absolute/dir:N (N 1-256; name 1-50 of A-Z a-z 0-9 _ -) (got "${entry}")`,
        });
        return z.NEVER;
      }
      if (out.some((a) => a.name === m[1])) {
        ctx.addIssue({ code: 'custom', message: `${name} names account "${m[1]}" twice` });
        return z.NEVER;
      }
      out.push({ name: m[1]!, dir: m[2]!, ...(n === undefined ? {} : { concurrency: n }) });
    }
    return out;
  });

/** One account's monthly credit; `account` `*` = every account without its own entry. */
export interface AccountCreditSpec {
  account: string;
  usd: number;
}

/**
 * CLAUDE_ACCOUNT_CREDIT_USD: `name=usd,...`; a bare amount applies to every account without its
 * own (account `*`).
 */
const credits = (name: string) =>
  list([]).transform((entries, ctx) => {
    const out: AccountCreditSpec[] = [];
    for (const entry of entries) {
      const m = /^(?:([^=]+)=)?(\d+(?:\.\d+)?)$/.exec(entry);
      if (!m || (m[1] !== undefined && !ACCOUNT_NAME.test(m[1]))) {
        ctx.addIssue({
          code: 'custom',
          message: `${name} entries must be name=usd or a bare amount in US dollars (got "${entry}")`,
        });
        return z.NEVER;
      }
      out.push({ account: m[1] ?? '*', usd: Number(m[2]) });
    }
    return out;
  });

/** A share in (0, 1]; unset = undefined. */
const share = (name: string) => {
  const error = `${name} must be a number above 0 and at most 1`;
  return z.preprocess(
    blankToUndefined,
    z.coerce.number({ error }).gt(0, { error }).max(1, { error }).optional(),
  );
};

/** Where a model name of the /v1 API goes: a provider and the model its CLI runs. */
export interface ModelRoute {
  provider: (typeof PROVIDERS)[number];
  model: string;
}

/** The default MODEL_ALIASES (each side must be a valid model name). */
export const DEFAULT_MODEL_ALIASES =
  'claude=claude:sonnet,codex=codex:gpt-5-codex,gpt-4o=codex:gpt-5,gpt-4o-mini=codex:gpt-5-mini';

/** MODEL_ALIASES: `name=provider:model,...` → a map from each name to its route. */
const modelAliases = list(DEFAULT_MODEL_ALIASES.split(',')).transform((entries, ctx) => {
  const out: Record<string, ModelRoute> = {};
  for (const entry of entries) {
    const m = /^([^=\s]+)=(claude|codex):(\S+)$/.exec(entry);
    if (!m || !MODEL_NAME.test(m[1]!) || !MODEL_NAME.test(m[3]!)) {
      ctx.addIssue({
        code: 'custom',
        message: `MODEL_ALIASES entries must be name=claude:model or name=codex:model (got "${entry}")`,
      });
      return z.NEVER;
    }
    out[m[1]!] = { provider: m[2] as ModelRoute['provider'], model: m[3]! };
  }
  return out;
});

const baseSchema = z.object({
  NODE_ENV: z.preprocess(
    blankToUndefined,
    z.enum(['development', 'production', 'test']).default('development'),
  ),
  LOG_LEVEL: z.preprocess(
    blankToUndefined,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ),
  LOG_FORMAT: z.preprocess(blankToUndefined, z.enum(['auto', 'json', 'pretty']).default('auto')),
  // Logs per-stage timings of each request (API) and job (worker); for measurement, off by default.
  TRACE_STAGES: bool('TRACE_STAGES', false),

  // HTTP
  PORT: int('PORT', 0, 65535, 3456), // 0 = any free port
  HOST: str('127.0.0.1'),
  BRIDGE_ADMIN_KEY: z.preprocess(blankToUndefined, z.string().optional()),
  // Bearer token that may read GET /metrics besides the admin key (unset = the admin key only).
  METRICS_TOKEN: z.preprocess(
    blankToUndefined,
    z.string().min(16, 'METRICS_TOKEN must be at least 16 characters').optional(),
  ),
  DATA_DIR: str('./data'),
  CORS_ORIGINS: list([]),
  TRUST_PROXY: int('TRUST_PROXY', 0, 10, 0),
  BODY_LIMIT_BYTES: int('BODY_LIMIT_BYTES', 1024, 100 * 1024 * 1024, 8 * 1024 * 1024),
  // Images of compatible requests: bytes per image (decoded) and images per request; 0 = refused.
  MAX_IMAGE_BYTES: int('MAX_IMAGE_BYTES', 0, 100 * 1024 * 1024, 5 * 1024 * 1024),
  MAX_IMAGES: int('MAX_IMAGES', 0, 100, 8),
  RATE_LIMIT_WINDOW_MS: int('RATE_LIMIT_WINDOW_MS', 1000, MAX_MS, 60_000),
  RATE_LIMIT_MAX_REQUESTS: int('RATE_LIMIT_MAX_REQUESTS', 0, 1_000_000, 30),
  SYNC_WAIT_TIMEOUT_MS: int('SYNC_WAIT_TIMEOUT_MS', 100, MAX_MS, 240_000),
  REQUEST_TIMEOUT_MS: int('REQUEST_TIMEOUT_MS', 1_000, MAX_MS, 30_000),
  MAX_CONNECTIONS: int('MAX_CONNECTIONS', 1, 1_000_000, 4_096),
  ADMIN_RATE_LIMIT_MAX: int('ADMIN_RATE_LIMIT_MAX', 0, 1_000_000, 60),
  AUTH_FAILURE_LIMIT: int('AUTH_FAILURE_LIMIT', 0, 1_000_000, 10),
  // How long (ms) an API process reuses a successful key lookup on the routes that go through
  // admission (which re-checks the key, so a revoked key is still refused at once); 0 = off.
  KEY_CACHE_TTL_MS: int('KEY_CACHE_TTL_MS', 0, 60_000, 5_000),
  // Life of a dashboard session (the admin's or a key holder's cookie), in ms. Default: 8 hours.
  DASHBOARD_SESSION_TTL_MS: int('DASHBOARD_SESSION_TTL_MS', 1_000, 30 * 86_400_000, 8 * 3_600_000),
  CONCURRENCY_LEASE_MS: int('CONCURRENCY_LEASE_MS', 1_000, MAX_MS, 600_000),
  LOG_MAX_ENTRIES: int('LOG_MAX_ENTRIES', 1, 10_000_000, 10_000),
  LOG_PROMPT_CHARS: int('LOG_PROMPT_CHARS', 0, 500_000, 0),
  CANCEL_ON_DISCONNECT: bool('CANCEL_ON_DISCONNECT', true),
  SSE_HEARTBEAT_MS: int('SSE_HEARTBEAT_MS', 100, 15_000, 10_000),
  SSE_MAX_STREAMS: int('SSE_MAX_STREAMS', 1, 1_000_000, 2_000),
  SSE_MAX_STREAMS_PER_KEY: int('SSE_MAX_STREAMS_PER_KEY', 1, 1_000_000, 50),
  MAX_QUEUED_PER_KEY: int('MAX_QUEUED_PER_KEY', 0, 1_000_000, 100),
  MAX_QUEUED_PER_PROVIDER: int('MAX_QUEUED_PER_PROVIDER', 0, 10_000_000, 1_000),

  // Redis
  REDIS_URL: str('redis://127.0.0.1:6379'),
  // Redis Sentinel (empty = none): clients ask these for the current master of REDIS_SENTINEL_NAME;
  // REDIS_URL then gives only the password and database.
  REDIS_SENTINELS: sentinels,
  REDIS_SENTINEL_NAME: str('mymaster'),
  // Replicas that must confirm a submitted job (Redis WAIT, up to 1 s) before the API answers.
  REDIS_WAIT_REPLICAS: int('REDIS_WAIT_REPLICAS', 0, 16, 0),
  // In braces (`{bridge}`) the prefix is a Redis Cluster hash tag: every key in one slot.
  REDIS_PREFIX: str('bridge').pipe(
    z
      .string()
      .regex(
        /^(\{[A-Za-z0-9_.-]{1,62}\}|[A-Za-z0-9_.-]{1,64})$/,
        'REDIS_PREFIX must be 1-64 of [A-Za-z0-9_.-], or such a name in braces (a cluster hash tag)',
      ),
  ),

  // Jobs
  JOB_RESULT_TTL_S: int('JOB_RESULT_TTL_S', 60, 30 * 86_400, 86_400),
  JOB_RETENTION_COUNT: int('JOB_RETENTION_COUNT', 10, 1_000_000, 10_000),
  JOB_ATTEMPTS: int('JOB_ATTEMPTS', 1, 20, 3),
  JOB_BACKOFF_MS: int('JOB_BACKOFF_MS', 0, MAX_MS, 2_000),
  // Share of each retry delay drawn at random (0 = none): retries of many jobs spread out.
  JOB_BACKOFF_JITTER: z.preprocess(
    blankToUndefined,
    z.coerce
      .number({ error: 'JOB_BACKOFF_JITTER must be a number 0-1' })
      .min(0, { error: 'JOB_BACKOFF_JITTER must be a number 0-1' })
      .max(1, { error: 'JOB_BACKOFF_JITTER must be a number 0-1' })
      .default(0.5),
  ),

  // Worker
  WORKER_PROVIDERS: providers,
  WORKER_CONCURRENCY_CLAUDE: int('WORKER_CONCURRENCY_CLAUDE', 1, 256, 2),
  WORKER_CONCURRENCY_CODEX: int('WORKER_CONCURRENCY_CODEX', 1, 256, 2),
  WORKER_HEARTBEAT_MS: int('WORKER_HEARTBEAT_MS', 500, 600_000, 5_000),
  WORKER_LOCK_DURATION_MS: int('WORKER_LOCK_DURATION_MS', 1_000, MAX_MS, 30_000),
  WORKER_STALLED_INTERVAL_MS: int('WORKER_STALLED_INTERVAL_MS', 1_000, MAX_MS, 30_000),
  SHUTDOWN_TIMEOUT_MS: int('SHUTDOWN_TIMEOUT_MS', 0, MAX_MS, 30_000),
  KILL_GRACE_MS: int('KILL_GRACE_MS', 0, 600_000, 5_000),
  CLI_ENV_PASSTHROUGH: list([]),
  USAGE_LIMIT_COOLDOWN_MS: int('USAGE_LIMIT_COOLDOWN_MS', 1000, MAX_MS, 900_000),
  // Warm pool (worker/src/cli/warm-pool.ts): CLI processes started ahead of their job.
  // Processes kept in all (0 = off).
  WARM_POOL_MAX: int('WARM_POOL_MAX', 0, 256, 4),
  // Processes kept ready per (provider, account, model, system prompt, start-up flags).
  WARM_POOL_PER_KEY: int('WARM_POOL_PER_KEY', 1, 16, 1),
  // Resident memory of all waiting processes together (MiB, from /proc).
  WARM_POOL_MAX_RSS_MB: int('WARM_POOL_MAX_RSS_MB', 1, 1_048_576, 1_024),
  // A process left waiting this long (ms) is killed.
  WARM_POOL_IDLE_MS: int('WARM_POOL_IDLE_MS', 1_000, MAX_MS, 300_000),
  // How often a worker re-reads its accounts' holds (and probes an account whose reset passed).
  ACCOUNT_HOLD_POLL_MS: int('ACCOUNT_HOLD_POLL_MS', 100, 600_000, 1_000),

  // Claude
  CLAUDE_BIN: str('claude'),
  CLAUDE_DEFAULT_MODEL: str('sonnet'),
  CLAUDE_MODELS: list(['sonnet', 'opus', 'haiku', 'claude-*']),
  CLAUDE_TIMEOUT_MS: int('CLAUDE_TIMEOUT_MS', 1000, MAX_MS, 120_000),
  CLAUDE_MAX_BUFFER_BYTES: int('CLAUDE_MAX_BUFFER_BYTES', 1024, 1024 ** 3, 10_485_760),
  CLAUDE_CODE_MAX_RETRIES: int('CLAUDE_CODE_MAX_RETRIES', 0, 20, 2),
  CLAUDE_COST_BOUND_USD: usd('CLAUDE_COST_BOUND_USD', 1_000, 1),
  CLAUDE_ACCOUNTS: accounts('CLAUDE_ACCOUNTS'),
  CLAUDE_ACCOUNT_CREDIT_USD: credits('CLAUDE_ACCOUNT_CREDIT_USD'),
  CLAUDE_ACCOUNT_CREDIT_STOP_SHARE: share('CLAUDE_ACCOUNT_CREDIT_STOP_SHARE'),

  // Codex
  CODEX_BIN: str('codex'),
  CODEX_DEFAULT_MODEL: str('gpt-5-codex'),
  CODEX_MODELS: list(['gpt-*', 'codex-*', 'o3*', 'o4*']),
  CODEX_TIMEOUT_MS: int('CODEX_TIMEOUT_MS', 1000, MAX_MS, 180_000),
  CODEX_MAX_BUFFER_BYTES: int('CODEX_MAX_BUFFER_BYTES', 1024, 1024 ** 3, 10_485_760),
  CODEX_COST_BOUND_USD: usd('CODEX_COST_BOUND_USD', 1_000, 1),
  CODEX_PRICING_FILE: str('./codex-pricing.json'),
  CODEX_ACCOUNTS: accounts('CODEX_ACCOUNTS'),

  // OpenAI- and Anthropic-compatible API (/v1)
  MODEL_ALIASES: modelAliases,

  // Start-up (npm start)
  START_REDIS: bool('START_REDIS', true),
});

/** Every variable the bridge itself reads. */
export const CONFIG_KEYS = Object.keys(baseSchema.shape);

export const configSchema = baseSchema.superRefine((c, ctx) => {
  if (c.BRIDGE_ADMIN_KEY !== undefined && c.BRIDGE_ADMIN_KEY.length < 16) {
    ctx.addIssue({
      code: 'custom',
      path: ['BRIDGE_ADMIN_KEY'],
      message: 'BRIDGE_ADMIN_KEY must be at least 16 characters',
    });
  }
  for (const [name, value] of [
    ['CLAUDE_DEFAULT_MODEL', c.CLAUDE_DEFAULT_MODEL],
    ['CODEX_DEFAULT_MODEL', c.CODEX_DEFAULT_MODEL],
  ] as const) {
    if (!MODEL_NAME.test(value)) {
      ctx.addIssue({
        code: 'custom',
        path: [name],
        message: `${name} is not a valid model name`,
      });
    }
  }
});

export type Config = z.output<typeof configSchema>;

/** What a model name may look like: never a flag, never whitespace or shell syntax. */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:[\]/-]{0,127}$/;

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

/**
 * Parses the environment. Throws `ConfigError` whose message names every bad variable.
 * @param env usually `process.env`; tests pass their own object.
 */
export interface LoadConfigOptions {
  /**
   * The process reading it. The API serves the admin API, so in production it requires
   * BRIDGE_ADMIN_KEY; workers never use the key and should not have to hold it.
   */
  role?: 'api' | 'worker' | 'launcher';
}

export function loadConfig(
  env: NodeJS.ProcessEnv | Record<string, string | undefined>,
  opts: LoadConfigOptions = {},
): Config {
  const result = configSchema.safeParse(env);
  if (result.success) {
    const c = result.data;
    if (opts.role === 'api' && c.NODE_ENV === 'production' && !c.BRIDGE_ADMIN_KEY) {
      throw new ConfigError(['BRIDGE_ADMIN_KEY is required in production (at least 16 characters)']);
    }
    return c;
  }
  const problems = result.error.issues.map((i) => {
    // Our own messages already name the variable; zod's built-in ones (enums) do not.
    const name = String(i.path[0] ?? '');
    return i.message.includes(name) ? i.message : `${name}: ${i.message}`;
  });
  throw new ConfigError(problems);
}

/**
 * Loads `file` (default `.env` in the working directory), when there is one, into the process's
 * environment with Node's own parser; a variable already set in the real environment wins.
 */
export function loadDotEnv(file = '.env'): boolean {
  if (!existsSync(file)) return false;
  try {
    process.loadEnvFile(file);
  } catch (err) {
    throw new ConfigError([`${file} could not be read: ${(err as Error).message}`]);
  }
  return true;
}

/**
 * For a process's `main.ts`: reads `.env` when present (`loadDotEnv`), then returns the parsed
 * config, or (on a bad value) writes the message naming every bad variable on stderr and exits 1.
 */
export function loadConfigOrExit(
  env: NodeJS.ProcessEnv,
  opts: LoadConfigOptions = {},
  exit: (code: number) => never = (code) => process.exit(code),
): Config {
  try {
    if (env === process.env) loadDotEnv();
    return loadConfig(env, opts);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return exit(1);
  }
}
