/**
 * The deployment files stay in step with the code: `.env.example` with the config schema,
 * docker-compose.yml, the Dockerfiles and the systemd units with what the README promises of them.
 * Static checks only: no Docker engine or systemd is needed, nothing is built or started.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS, ConfigError, loadConfig } from '@cli-bridge/shared';

const ROOT = resolve(import.meta.dirname, '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

const DEFAULTS = loadConfig({});
/** Extra seconds each process allows itself past its drain time (api/src/main.ts, worker/src/main.ts). */
const EXIT_SLACK_MS = 5_000;
const API_DEADLINE_MS = DEFAULTS.SHUTDOWN_TIMEOUT_MS + EXIT_SLACK_MS;
const WORKER_DEADLINE_MS = DEFAULTS.SHUTDOWN_TIMEOUT_MS + DEFAULTS.KILL_GRACE_MS + EXIT_SLACK_MS;

/** Variables the schema refuses to run without when NODE_ENV=production. */
function requiredInProduction(): string[] {
  try {
    loadConfig({ NODE_ENV: 'production' }, { role: 'api' });
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return CONFIG_KEYS.filter((k) => err.problems.some((p) => new RegExp(`\\b${k}\\b`).test(p)));
  }
}

// ---------------------------------------------------------------------------------------------
// .env.example

interface EnvLine {
  name: string;
  value: string;
  active: boolean;
  line: number;
}

/** `NAME=value` (active) and `# NAME=value` (documented default) lines; prose comments skipped. */
function readEnvExample(): EnvLine[] {
  return read('.env.example')
    .split('\n')
    .flatMap((text, i) => {
      const m = /^(#\s?)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(text);
      return m ? [{ name: m[2]!, value: m[3]!, active: m[1] === undefined, line: i + 1 }] : [];
    });
}

describe('.env.example', () => {
  const lines = readEnvExample();
  const names = lines.map((l) => l.name);

  it('names exactly the variables of the config schema', () => {
    const missing = CONFIG_KEYS.filter((k) => !names.includes(k));
    const extra = names.filter((n) => !CONFIG_KEYS.includes(n));
    expect({ missing, extra }, 'missing: in the schema, not in .env.example; extra: the reverse').toEqual({
      missing: [],
      extra: [],
    });
    expect(
      names.filter((n, i) => names.indexOf(n) !== i),
      'listed twice',
    ).toEqual([]);
  });

  it('lists them in the schema order', () => {
    expect(names).toEqual(CONFIG_KEYS.filter((k) => names.includes(k)));
  });

  it('shows each default as the schema has it', () => {
    const emptyDefault = (v: unknown) => v === undefined || v === '' || (Array.isArray(v) && v.length === 0);
    for (const { name, value, line } of lines) {
      if (name === 'BRIDGE_ADMIN_KEY') continue; // a secret: no default
      const where = `.env.example line ${line}: ${name}=${value}`;
      expect(value, `${where}: no inline comments (env files keep them in the value)`).not.toMatch(/\s#/);
      const key = name as keyof typeof DEFAULTS;
      let parsed: unknown;
      try {
        parsed = loadConfig({ [name]: value })[key];
      } catch (err) {
        throw new Error(`${where} is refused by the schema: ${(err as Error).message}`);
      }
      expect(parsed, where).toStrictEqual(DEFAULTS[key]);
      if (value === '') expect(emptyDefault(DEFAULTS[key]), `${where}: write the default out`).toBe(true);
    }
  });

  it('has an active, empty line for each variable required in production', () => {
    const required = requiredInProduction();
    expect(required).toContain('BRIDGE_ADMIN_KEY');
    for (const name of required) {
      expect(lines.find((l) => l.name === name)).toMatchObject({ active: true, value: '' });
    }
  });

  it('states the units', () => {
    const text = read('.env.example');
    expect(text).toMatch(/milliseconds/);
    expect(text).toMatch(/JOB_RESULT_TTL_S[^\n]*seconds/i);
  });
});

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

type Yaml = string | null | Yaml[] | { [key: string]: Yaml };

/**
 * A strict reader of the YAML that compose files are written in: block mappings and sequences,
 * plain and quoted scalars, comments. Anything else (flow collections, anchors, block scalars,
 * tabs, uneven indentation, duplicate keys) is an error, so the file stays plain. Scalars stay
 * strings. (No YAML library is a dependency of the project.)
 */
function readYaml(src: string, file: string): Yaml {
  interface Line {
    indent: number;
    text: string;
    no: number;
  }
  const stripComment = (raw: string): string => {
    let quote = '';
    for (let i = 0; i < raw.length; i++) {
      const c = raw[i]!;
      if (quote) {
        if (c === '\\' && quote === '"') i++;
        else if (c === quote) quote = '';
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '#' && (i === 0 || /\s/.test(raw[i - 1]!))) return raw.slice(0, i);
    }
    return raw;
  };
  const lines: Line[] = [];
  src.split('\n').forEach((raw, i) => {
    if (/^ *\t/.test(raw)) throw new Error(`${file} line ${i + 1}: tab in indentation`);
    const text = stripComment(raw).trimEnd();
    if (text.trim() !== '')
      lines.push({ indent: text.length - text.trimStart().length, text: text.trimStart(), no: i + 1 });
  });
  const fail = (l: Line, msg: string) => new Error(`${file} line ${l.no}: ${msg}`);
  const KEY = /^("[^"]*"|'[^']*'|[^\s"'#:-][^:]*?)\s*:(?:\s+(.*))?$/;
  const isItem = (l: Line | undefined, indent: number) =>
    l !== undefined && l.indent === indent && (l.text === '-' || l.text.startsWith('- '));
  const unquote = (s: string) => (/^["']/.test(s) ? s.slice(1, -1) : s);
  const scalar = (t: string, l: Line): string => {
    if (t.startsWith('"')) {
      if (!/^"(?:[^"\\]|\\.)*"$/.test(t)) throw fail(l, `bad double-quoted scalar: ${t}`);
      return JSON.parse(t) as string;
    }
    if (t.startsWith("'")) {
      if (!/^'(?:[^']|'')*'$/.test(t)) throw fail(l, `bad single-quoted scalar: ${t}`);
      return t.slice(1, -1).replace(/''/g, "'");
    }
    if (/^[[\]{}&*!|>%@`,]/.test(t)) throw fail(l, `construct not allowed here: ${t}`);
    return t;
  };
  let pos = 0;
  const block = (indent: number): Yaml => (isItem(lines[pos], indent) ? seq(indent) : map(indent));
  const nested = (parent: number): Yaml =>
    pos < lines.length && lines[pos]!.indent > parent ? block(lines[pos]!.indent) : null;
  const seq = (indent: number): Yaml[] => {
    const out: Yaml[] = [];
    while (isItem(lines[pos], indent)) {
      const l = lines[pos]!;
      const rest = l.text.slice(1).trimStart();
      if (rest === '') {
        pos++;
        out.push(nested(indent));
      } else if (KEY.test(rest)) {
        // "- key: value": a mapping whose first key shares the dash's line.
        const col = indent + l.text.length - rest.length;
        lines[pos] = { indent: col, text: rest, no: l.no };
        out.push(map(col));
      } else {
        pos++;
        out.push(scalar(rest, l));
      }
    }
    return out;
  };
  const map = (indent: number): Yaml => {
    const out: { [key: string]: Yaml } = {};
    while (pos < lines.length && lines[pos]!.indent === indent) {
      const l = lines[pos]!;
      const m = KEY.exec(l.text);
      if (!m) throw fail(l, `expected "key: value", got: ${l.text}`);
      const key = unquote(m[1]!);
      if (key in out) throw fail(l, `duplicate key "${key}"`);
      pos++;
      if (m[2]) out[key] = scalar(m[2], l);
      else if (isItem(lines[pos], indent)) out[key] = seq(indent);
      else out[key] = nested(indent);
    }
    return out;
  };
  if (lines.length === 0) return null;
  if (lines[0]!.indent !== 0) throw fail(lines[0]!, 'the document must start at column 0');
  const doc = block(0);
  if (pos < lines.length) throw fail(lines[pos]!, 'unexpected indentation');
  return doc;
}

type YamlMap = { [key: string]: Yaml };
const isMap = (v: Yaml | undefined): v is YamlMap => typeof v === 'object' && v !== null && !Array.isArray(v);
const asMap = (v: Yaml | undefined, what: string): YamlMap => {
  if (!isMap(v)) throw new Error(`${what} is not a mapping`);
  return v;
};
const asList = (v: Yaml | undefined): Yaml[] => (Array.isArray(v) ? v : v == null ? [] : [v]);

/** Duration such as compose's `1m30s` or systemd's `90`, `1min 30s`; `bareUnitMs` for a bare number. */
function durationMs(text: string, bareUnitMs: number): number {
  const units: Record<string, number> = { ms: 1, s: 1_000, sec: 1_000, m: 60_000, min: 60_000, h: 3_600_000 };
  if (/^\d+$/.test(text.trim())) return Number(text) * bareUnitMs;
  let total = 0;
  const rest = text.replace(/(\d+)\s*(ms|sec|min|h|m|s)(?![a-z])\s*/g, (_, n: string, u: string) => {
    total += Number(n) * units[u]!;
    return '';
  });
  if (rest.trim() !== '') throw new Error(`unreadable duration: ${text}`);
  return total;
}

/** `environment:` as a mapping or as a list of NAME=value. */
function environmentOf(service: YamlMap): Record<string, string> {
  const env = service.environment;
  if (isMap(env)) return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v ?? '')]));
  return Object.fromEntries(
    asList(env).map((e) => {
      const [k, ...v] = String(e).split('=');
      return [k!, v.join('=')];
    }),
  );
}

describe('docker-compose.yml', () => {
  // Parsed on first use, so that a file the reader refuses fails tests with the reason, not the
  // collection of this file.
  let parsed: YamlMap | undefined;
  const doc = () =>
    (parsed ??= asMap(readYaml(read('docker-compose.yml'), 'docker-compose.yml'), 'the document'));
  const svc = (name: string) => asMap(asMap(doc().services, 'services')[name], `services.${name}`);

  it('parses as (plain) YAML and runs redis, api and worker', () => {
    expect(Object.keys(asMap(doc().services, 'services')).sort()).toEqual(['api', 'redis', 'worker']);
  });

  it('runs Redis 7 with AOF and noeviction, on a named volume, with a health check', () => {
    const redis = svc('redis');
    expect(redis.image).toMatch(/^redis:7(\b|$)/);
    const command = asList(redis.command).map(String).join(' ');
    expect(command).toMatch(/--appendonly yes\b/);
    expect(command).toMatch(/--appendfsync everysec\b/);
    expect(command).toMatch(/--maxmemory-policy noeviction\b/);
    const volume = String(asList(redis.volumes)[0]).split(':')[0]!;
    expect(Object.keys(asMap(doc().volumes, 'volumes'))).toContain(volume);
    expect(asList(asMap(redis.healthcheck, 'redis.healthcheck').test).join(' ')).toMatch(/redis-cli.*ping/);
    expect(redis.ports, 'Redis is not published').toBeUndefined();
  });

  it.each(['api', 'worker'])(
    '%s: its own Dockerfile, .env, the compose Redis, started once Redis is healthy',
    (name) => {
      const s = svc(name);
      expect(asMap(s.build, 'build').dockerfile).toBe(`Dockerfile.${name}`);
      expect(asList(s.env_file)).toContain('.env');
      expect(environmentOf(s).REDIS_URL).toBe('redis://redis:6379');
      expect(asMap(asMap(s.depends_on, 'depends_on').redis, 'depends_on.redis').condition).toBe(
        'service_healthy',
      );
    },
  );

  it('api: listens on 0.0.0.0:3456 in the container, health-checked with node', () => {
    const api = svc('api');
    const env = environmentOf(api);
    expect(env.HOST).toBe('0.0.0.0');
    const port = env.PORT ?? String(DEFAULTS.PORT);
    expect(
      asList(api.ports)
        .map(String)
        .some((p) => p.endsWith(`:${port}`)),
    ).toBe(true);
    const check = asList(asMap(api.healthcheck, 'api.healthcheck').test).map(String);
    expect(check.slice(0, 2)).toEqual(['CMD', 'node']);
    expect(check.join(' ')).toContain(`:${port}/health`);
    expect(durationMs(String(api.stop_grace_period), 1_000)).toBeGreaterThan(API_DEADLINE_MS);
  });

  it('worker: scalable, with the CLI logins mounted into the non-root home', () => {
    const worker = svc('worker');
    expect(worker.container_name).toBeUndefined();
    expect(worker.ports).toBeUndefined();
    const mounts = asList(worker.volumes).map((v) =>
      isMap(v) ? `${String(v.source)}:${String(v.target)}` : String(v).replace(/:(ro|rw)$/, ''),
    );
    for (const dir of ['.claude', '.claude.json', '.codex']) {
      expect(
        mounts.some((m) => m.endsWith(`/${dir}:/home/node/${dir}`)),
        dir,
      ).toBe(true);
    }
    expect(durationMs(String(worker.stop_grace_period), 1_000)).toBeGreaterThan(WORKER_DEADLINE_MS);
  });

  it('takes secrets from .env only, and every production-required variable from there', () => {
    for (const name of ['api', 'worker']) {
      const env = environmentOf(svc(name));
      for (const key of Object.keys(env)) {
        expect(CONFIG_KEYS, `services.${name}.environment.${key} is not a config variable`).toContain(key);
        expect(key, `services.${name}: secrets come from .env`).not.toMatch(/KEY|TOKEN|SECRET|PASSWORD/);
      }
      expect(env.REDIS_URL, 'no password inline').not.toContain('@');
      for (const required of requiredInProduction()) {
        expect(env[required], `${required} comes from .env`).toBeUndefined();
        expect(asList(svc(name).env_file)).toContain('.env');
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Dockerfiles

interface Instruction {
  op: string;
  args: string;
}

function readDockerfile(file: string): Instruction[][] {
  const joined = read(file)
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  const instructions = joined
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const m = /^\s*(\S+)\s+(.*)$/.exec(l);
      if (!m) throw new Error(`${file}: unreadable line: ${l}`);
      return { op: m[1]!.toUpperCase(), args: m[2]!.trim() };
    });
  const stages: Instruction[][] = [];
  for (const i of instructions) {
    if (i.op === 'FROM') stages.push([]);
    if (stages.length === 0) throw new Error(`${file}: ${i.op} before FROM`);
    stages.at(-1)!.push(i);
  }
  return stages;
}

/** `${NAME}` and `$NAME` replaced by the stage's ARG defaults. */
function expandArgs(stage: Instruction[], text: string): string {
  const args = new Map<string, string>();
  for (const i of stage.filter((s) => s.op === 'ARG')) {
    const [k, v] = i.args.split('=');
    if (v !== undefined) args.set(k!, v);
  }
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (all, a?: string, b?: string) => args.get((a ?? b)!) ?? all);
}

describe.each(['api', 'worker'])('Dockerfile.%s', (name) => {
  const stages = readDockerfile(`Dockerfile.${name}`);
  const final = stages.at(-1)!;
  const runs = (stage: Instruction[]) =>
    stage.filter((i) => i.op === 'RUN').map((i) => expandArgs(stage, i.args));

  it('is multi-stage on node:20-bookworm-slim: npm ci and npm run build, then production deps', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s[0]!.args).toMatch(/^node:20-bookworm-slim(\s|$)/);
    expect(runs(stages[0]!).join('\n')).toMatch(/npm ci\b/);
    expect(runs(stages[0]!).join('\n')).toMatch(/npm run build\b/);
    const install = runs(final).find((r) => /npm ci\b/.test(r));
    expect(install).toMatch(/--omit=dev/);
    expect(install).toMatch(/--workspace shared\b/);
    expect(install).toMatch(new RegExp(`--workspace ${name}\\b`));
  });

  it('carries the built dist/ folders, codex-pricing.json and NODE_ENV=production', () => {
    const copies = final.filter((i) => i.op === 'COPY').map((i) => i.args);
    expect(copies.some((c) => /--from=\S+ \S*shared\/dist\b/.test(c))).toBe(true);
    expect(copies.some((c) => new RegExp(`--from=\\S+ \\S*${name}/dist\\b`).test(c))).toBe(true);
    expect(copies.some((c) => /^codex-pricing\.json\s/.test(c))).toBe(true);
    expect(final.some((i) => i.op === 'ENV' && /\bNODE_ENV=production\b/.test(i.args))).toBe(true);
  });

  it('runs node itself as a non-root user (exec-form CMD, no npm)', () => {
    const user = final.filter((i) => i.op === 'USER').at(-1);
    expect(user, 'USER in the final stage').toBeDefined();
    expect(user!.args).not.toMatch(/^(root|0)(:|$)/);
    const last = final.at(-1)!;
    expect(last.op).toBe('CMD');
    expect(JSON.parse(last.args)).toEqual(['node', `${name}/dist/main.js`]);
  });
});

describe('Dockerfile.worker', () => {
  it('installs the CLI versions the tests pin, with install scripts on', () => {
    const final = readDockerfile('Dockerfile.worker').at(-1)!;
    const run = final
      .filter((i) => i.op === 'RUN')
      .map((i) => expandArgs(final, i.args))
      .find((r) => /npm (i|install) (-g|--global)\b/.test(r));
    expect(run).toBeDefined();
    expect(run).not.toMatch(/--ignore-scripts|--omit=optional/);
    const pins = (JSON.parse(read('tests/package.json')) as { devDependencies: Record<string, string> })
      .devDependencies;
    for (const pkg of ['@anthropic-ai/claude-code', '@openai/codex']) {
      expect(run).toContain(`${pkg}@${pins[pkg]!}`);
    }
  });
});

describe('.dockerignore', () => {
  it('keeps dependencies, builds, local state, git, tests and secrets out of the context', () => {
    const patterns = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.replace(/^\*\*\//, '').replace(/\/$/, ''));
    for (const p of ['node_modules', 'dist', 'data', '.git', 'tests', '.env', '*.tsbuildinfo']) {
      expect(patterns, p).toContain(p);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// systemd units

function readUnit(file: string): Record<string, Record<string, string[]>> {
  const unit: Record<string, Record<string, string[]>> = {};
  let section: Record<string, string[]> | undefined;
  for (const raw of read(file).split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const head = /^\[(\w+)\]$/.exec(line);
    if (head) section = unit[head[1]!] = {};
    else {
      const m = /^(\w+)=(.*)$/.exec(line);
      if (!m || !section || line.endsWith('\\')) throw new Error(`${file}: unreadable line: ${line}`);
      (section[m[1]!] ??= []).push(m[2]!);
    }
  }
  return unit;
}

describe.each(['api', 'worker'])('deploy/systemd/cli-bridge-%s.service', (name) => {
  const unit = readUnit(`deploy/systemd/cli-bridge-${name}.service`);
  const service = unit.Service ?? {};
  const one = (key: string) => service[key]?.at(-1);
  const env = Object.fromEntries(
    (service.Environment ?? []).flatMap((e) => e.split(/\s+/)).map((kv) => kv.split('=') as [string, string]),
  );

  it('runs the built entry point with node as a non-root user, settings from /etc/cli-bridge/env', () => {
    expect(one('ExecStart')).toBe(`/usr/bin/node /opt/cli-bridge/${name}/dist/main.js`);
    expect(one('User')).toBeDefined();
    expect(one('User')).not.toMatch(/^(root|0)$/);
    expect(one('EnvironmentFile')).toMatch(/^-?\/etc\/cli-bridge\/env$/);
    expect(env.NODE_ENV).toBe('production');
    for (const key of Object.keys(env)) expect([...CONFIG_KEYS, 'HOME'], `Environment=${key}`).toContain(key);
  });

  it('stops gracefully: KillMode=mixed, a stop timeout above the process deadline, Restart=on-failure', () => {
    expect(one('KillMode')).toBe('mixed');
    expect(one('Restart')).toBe('on-failure');
    const deadline = name === 'worker' ? WORKER_DEADLINE_MS : API_DEADLINE_MS;
    expect(durationMs(one('TimeoutStopSec') ?? '', 1_000)).toBeGreaterThan(deadline);
  });

  it('is hardened, and can still write its data dir, home and /tmp', () => {
    expect(one('NoNewPrivileges')).toBe('yes');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('PrivateTmp')).toBe('yes');
    const writable = (service.ReadWritePaths ?? []).flatMap((p) => p.split(/\s+/));
    const canWrite = (dir: string) => writable.some((w) => dir === w || dir.startsWith(`${w}/`));
    expect(canWrite('/tmp')).toBe(true);
    expect(env.DATA_DIR).toBeDefined();
    expect(canWrite(env.DATA_DIR!), `DATA_DIR ${env.DATA_DIR}`).toBe(true);
    if (name === 'worker') {
      expect(env.HOME, 'the CLIs keep their logins under HOME').toBeDefined();
      expect(canWrite(env.HOME!), `HOME ${env.HOME}`).toBe(true);
    }
  });
});
