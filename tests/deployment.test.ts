/**
 * The deployment files stay in step with the code: `.env.example` with the config schema,
 * docker-compose.yml, the Dockerfiles and the systemd units with what the README promises of them,
 * and the fronts that expose it (deploy/caddy, deploy/cloudflared) with the API they front.
 * Static checks only: no Docker engine, systemd, Caddy or cloudflared is needed, nothing is built,
 * started or downloaded.
 */
import { readFileSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
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

// Parsed on first use, so that a file the reader refuses fails tests with the reason, not the
// collection of this file.
let composeParsed: YamlMap | undefined;
const composeDoc = () =>
  (composeParsed ??= asMap(readYaml(read('docker-compose.yml'), 'docker-compose.yml'), 'the document'));
const composeService = (name: string) =>
  asMap(asMap(composeDoc().services, 'services')[name], `services.${name}`);
/** The port the compose api listens on, which its fronts must proxy to. */
const composeApiPort = () => environmentOf(composeService('api')).PORT ?? String(DEFAULTS.PORT);

/** The container side (`443`, `443/udp`) of each short-syntax `ports:` entry. */
const containerPorts = (service: YamlMap) => asList(service.ports).map((p) => String(p).split(':').at(-1)!);

/**
 * The file in the repository that a service sees at `containerPath`, through a `./relative` bind
 * mount of it or of a directory above it (short syntax), with whether the mount is read-only.
 */
function mountedFile(
  service: YamlMap,
  containerPath: string,
): { file: string; readOnly: boolean } | undefined {
  for (const v of asList(service.volumes)) {
    const [source = '', target = '', mode = ''] = String(v).split(':');
    if (!source.startsWith('./')) continue;
    if (containerPath === target || containerPath.startsWith(`${target}/`)) {
      const file = posix.normalize(source + containerPath.slice(target.length));
      return { file, readOnly: mode.split(',').includes('ro') };
    }
  }
  return undefined;
}

describe('docker-compose.yml', () => {
  const doc = composeDoc;
  const svc = composeService;
  const profilesOf = (name: string) => asList(svc(name).profiles).map(String);

  it('parses as (plain) YAML and runs redis, api and worker by default, the fronts only by profile', () => {
    const services = Object.keys(asMap(doc().services, 'services'));
    expect(services.filter((name) => profilesOf(name).length === 0).sort()).toEqual([
      'api',
      'redis',
      'worker',
    ]);
    expect(services.filter((name) => profilesOf(name).length > 0).sort()).toEqual(['caddy', 'cloudflared']);
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

  it('never requires a variable (${VAR:?}): compose interpolates every service, its profile on or off', () => {
    const scalars = (v: Yaml): string[] =>
      v === null ? [] : typeof v === 'string' ? [v] : Object.values(v).flatMap((x: Yaml) => scalars(x));
    expect(scalars(doc()).filter((v) => /\$\{\w+:?\?/.test(v))).toEqual([]);
  });

  describe('cloudflared (profile tunnel)', () => {
    const cloudflared = () => svc('cloudflared');

    it('exists only under the tunnel profile, on a pinned cloudflare/cloudflared image', () => {
      expect(profilesOf('cloudflared')).toEqual(['tunnel']);
      expect(cloudflared().image).toMatch(/^cloudflare\/cloudflared:\d{4}\.\d+\.\d+$/);
    });

    it('runs `tunnel run` with deploy/cloudflared/config.yml, mounted read-only', () => {
      const command = asList(cloudflared().command).map(String);
      expect(command[0]).toBe('tunnel');
      expect(command.at(-1)).toBe('run');
      const config = command[command.indexOf('--config') + 1];
      expect(config, '--config <file> before `run`').toMatch(/^\//);
      expect(mountedFile(cloudflared(), config!)).toEqual({
        file: 'deploy/cloudflared/config.yml',
        readOnly: true,
      });
    });

    it('publishes no port, starts once the api is healthy, restarts', () => {
      expect(cloudflared().ports).toBeUndefined();
      expect(cloudflared().expose).toBeUndefined();
      const dependsOn = asMap(cloudflared().depends_on, 'cloudflared.depends_on');
      expect(asMap(dependsOn.api, 'depends_on.api').condition).toBe('service_healthy');
      expect(cloudflared().restart).toMatch(/^(unless-stopped|always|on-failure)/);
    });

    it('takes its token from .env by reference (none written here), and no bridge secret', () => {
      const env = environmentOf(cloudflared());
      expect(env.TUNNEL_TOKEN).toMatch(/^\$\{TUNNEL_TOKEN(:?-)?\}$/);
      for (const key of Object.keys(env)) expect(key, 'cloudflared reads TUNNEL_* only').toMatch(/^TUNNEL_/);
      expect(cloudflared().env_file, 'the bridge .env holds BRIDGE_ADMIN_KEY').toBeUndefined();
      // A tunnel token is base64 of JSON, so it starts with "eyJ".
      expect(read('docker-compose.yml')).not.toMatch(/eyJ[A-Za-z0-9+/=]{20,}/);
    });
  });

  describe('caddy (profile caddy)', () => {
    const caddy = () => svc('caddy');

    it('exists only under the caddy profile, on a pinned caddy image, started after a healthy api', () => {
      expect(profilesOf('caddy')).toEqual(['caddy']);
      expect(caddy().image).toMatch(/^caddy:2\.\d+\.\d+(-alpine)?$/);
      const dependsOn = asMap(caddy().depends_on, 'caddy.depends_on');
      expect(asMap(dependsOn.api, 'depends_on.api').condition).toBe('service_healthy');
      expect(caddy().restart).toMatch(/^(unless-stopped|always|on-failure)/);
    });

    it('runs deploy/caddy/Caddyfile, proxying to the api service, with its certificates on a volume', () => {
      expect(caddy().command, "the image's own command reads /etc/caddy/Caddyfile").toBeUndefined();
      expect(mountedFile(caddy(), '/etc/caddy/Caddyfile')).toEqual({
        file: 'deploy/caddy/Caddyfile',
        readOnly: true,
      });
      const env = environmentOf(caddy());
      const site = caddySite(readCaddyfile(read('deploy/caddy/Caddyfile'), env));
      expect(proxyUpstreams(site)).toEqual([`api:${composeApiPort()}`]);
      expect(env.BRIDGE_DOMAIN, 'the domain comes from .env').toMatch(/^\$\{BRIDGE_DOMAIN(:?-[^}]*)?\}$/);
      const data = asList(caddy().volumes)
        .map(String)
        .find((v) => v.endsWith(':/data'));
      expect(Object.keys(asMap(doc().volumes, 'volumes'))).toContain(data?.split(':')[0]);
    });

    it('publishes 80 (certificate challenge, redirect) and 443', () => {
      const ports = containerPorts(caddy());
      expect(ports).toContain('80');
      expect(ports).toContain('443');
    });
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
    const pins = (
      JSON.parse(read('tests/real-clis/package.json')) as { dependencies: Record<string, string> }
    ).dependencies;
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

// ---------------------------------------------------------------------------------------------
// Exposing it safely: deploy/cloudflared/config.yml, deploy/caddy/Caddyfile, deploy/README.md

/** Requests that must never reach the API from the internet (the bridge routes ignore case). */
const ADMIN_PATHS = [
  ...['/admin/keys', '/ADMIN/keys', '/Admin', '//admin/keys', '/dashboard', '/Dashboard/x'],
  ...['/metrics', '/Metrics'],
];
/** Requests that must. */
const API_PATHS = ['/generate', '/generate-codex', '/jobs/abc/events', '/usage', '/health'];

describe('deploy/cloudflared/config.yml', () => {
  interface IngressRule {
    hostname?: string;
    path?: string;
    service: string;
    accessRequired: boolean;
  }
  let parsed: YamlMap | undefined;
  const config = () =>
    (parsed ??= asMap(
      readYaml(read('deploy/cloudflared/config.yml'), 'deploy/cloudflared/config.yml'),
      'the document',
    ));
  const ingress = (): IngressRule[] =>
    asList(config().ingress).map((r, i) => {
      const rule = asMap(r, `ingress[${i}]`);
      const access = isMap(rule.originRequest) ? rule.originRequest.access : undefined;
      return {
        hostname: rule.hostname == null ? undefined : String(rule.hostname),
        path: rule.path == null ? undefined : String(rule.path),
        service: String(rule.service),
        accessRequired: isMap(access) && access.required === 'true',
      };
    });
  /** cloudflared's choice: the first rule whose hostname and path (a Go regexp) both match. */
  const route = (hostname: string, path: string): IngressRule | undefined =>
    ingress().find((r) => {
      const host = r.hostname ?? '';
      const hostMatches =
        host === '' ||
        host === '*' ||
        host.toLowerCase() === hostname.toLowerCase() ||
        (host.startsWith('*.') && hostname.toLowerCase().endsWith(host.slice(1).toLowerCase()));
      if (!hostMatches) return false;
      if (r.path === undefined) return true;
      const caseless = r.path.startsWith('(?i)');
      return new RegExp(caseless ? r.path.slice(4) : r.path, caseless ? 'i' : '').test(path);
    });
  const apiService = () => `http://api:${composeApiPort()}`;
  const apiRule = () => ingress().find((r) => r.service === apiService());

  it('parses, with placeholders for the tunnel and its credentials file', () => {
    expect(config().tunnel).toEqual(expect.stringMatching(/\S/));
    expect(config()['credentials-file']).toEqual(expect.stringMatching(/^\/.*\.json$/));
  });

  it("routes a hostname to the compose api's port, and ends with a 404 catch-all", () => {
    expect(apiRule(), `a rule with service ${apiService()}`).toBeDefined();
    expect(apiRule()!.hostname, 'the API rule names its hostname').toMatch(/^[a-z0-9-]+(\.[a-z0-9-]+)+$/i);
    const last = ingress().at(-1)!;
    expect(last).toEqual({
      hostname: undefined,
      path: undefined,
      service: 'http_status:404',
      accessRequired: false,
    });
  });

  it('keeps /admin and /dashboard off the tunnel (a 4xx, or Access checked by cloudflared)', () => {
    const host = apiRule()!.hostname!;
    for (const path of ADMIN_PATHS) {
      const rule = route(host, path);
      expect(
        rule !== undefined && (/^http_status:4\d\d$/.test(rule.service) || rule.accessRequired),
        `${path} → ${rule?.service}`,
      ).toBe(true);
    }
    for (const path of API_PATHS) expect(route(host, path)?.service, path).toBe(apiService());
  });
});

interface CaddyNode {
  name: string;
  args: string[];
  body: CaddyNode[];
}

/**
 * A strict reader of the plain Caddyfile the template is written in: `{$NAME:default}`
 * substituted from `env` (as Caddy does from its environment when it loads the file), one
 * directive per line (name, then arguments), `{` at the end of a line opening its block and `}`
 * alone closing it, `#` comments. Quotes, escapes and one-line blocks are errors.
 */
function readCaddyfile(src: string, env: Record<string, string> = {}): CaddyNode[] {
  const root: CaddyNode = { name: '', args: [], body: [] };
  const stack = [root];
  const text = src.replace(/\{\$(\w+)(?::([^}]*))?\}/g, (_, name: string, fallback?: string) => {
    return env[name] ?? fallback ?? '';
  });
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') return;
    const fail = (msg: string) => new Error(`Caddyfile line ${i + 1}: ${msg}`);
    if (/["'`\\]/.test(line)) throw fail(`quotes and escapes are not supported here: ${line}`);
    if (line === '}') {
      if (stack.length === 1) throw fail('} without {');
      stack.pop();
      return;
    }
    const tokens = line.split(/\s+/);
    const opens = tokens.at(-1) === '{';
    if (opens) tokens.pop();
    if (tokens.some((t) => t === '{' || t === '}')) throw fail(`one-line blocks are not supported: ${line}`);
    const node: CaddyNode = { name: tokens[0] ?? '', args: tokens.slice(1), body: [] };
    stack.at(-1)!.body.push(node);
    if (opens) stack.push(node);
  });
  if (stack.length !== 1) throw new Error('Caddyfile: a block is not closed');
  return root.body;
}

/** The one site block (a global options block, `{` alone, has no name). */
function caddySite(nodes: CaddyNode[]): CaddyNode {
  const sites = nodes.filter((n) => n.name !== '');
  if (sites.length !== 1) throw new Error(`Caddyfile: expected one site block, found ${sites.length}`);
  return sites[0]!;
}

const caddyAll = (nodes: CaddyNode[], name: string): CaddyNode[] =>
  nodes.flatMap((n) => [...(n.name === name ? [n] : []), ...caddyAll(n.body, name)]);

/** The upstream of each reverse_proxy in the site (no matcher token in this template). */
const proxyUpstreams = (site: CaddyNode) =>
  caddyAll(site.body, 'reverse_proxy').flatMap((p) => p.args.filter((a) => !a.startsWith('@')));

/** A size as Caddy reads it (go-humanize): 8MB = 8,000,000, 8MiB = 8,388,608. */
function byteSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]?)(i?)b?$/i.exec(text.trim());
  if (!m) throw new Error(`unreadable size: ${text}`);
  const power = ['', 'k', 'm', 'g'].indexOf(m[2]!.toLowerCase());
  return Number(m[1]) * (m[3] ? 1024 : 1000) ** power;
}

/** Whether an IPv4 address is in an IPv4 address or CIDR range (IPv6 ranges never hold it). */
function inRange(ip: string, range: string): boolean {
  const toInt = (a: string) => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
  const [base, bits = '32'] = range.split('/');
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(base!)) return false;
  const size = 2 ** (32 - Number(bits));
  return Math.floor(toInt(ip) / size) === Math.floor(toInt(base!) / size);
}

/**
 * What the site does with a request from `remote` for `path`, as Caddy orders a site's
 * directives: `handle` blocks first (those with a matcher before the one without, each set in
 * file order), then `abort`, `error`, `respond`, `reverse_proxy`; the first whose matcher
 * matches answers. Matchers: named (`@name path ...`, or a block of `path`, `remote_ip`,
 * `client_ip`, each optionally under `not`) or an inline path. Anything else is an error.
 */
function caddyOutcome(site: CaddyNode, path: string, remote: string): 'blocked' | 'proxied' | 'other' {
  const named = new Map<string, CaddyNode[]>();
  for (const n of site.body.filter((n) => n.name.startsWith('@'))) {
    named.set(n.name, n.args.length ? [{ name: n.args[0]!, args: n.args.slice(1), body: [] }] : n.body);
  }
  const cleanPath = path.toLowerCase().replace(/\/{2,}/g, '/');
  const pathMatches = (pattern: string) => {
    const p = pattern.toLowerCase();
    const stars = p.split('*').length - 1;
    if (stars === 0) return cleanPath === p;
    if (stars === 1 && p.endsWith('*')) return cleanPath.startsWith(p.slice(0, -1));
    if (stars === 1 && p.startsWith('*')) return cleanPath.endsWith(p.slice(1));
    if (stars === 2 && p.startsWith('*') && p.endsWith('*')) return cleanPath.includes(p.slice(1, -1));
    throw new Error(`path pattern not supported by this test: ${pattern}`);
  };
  const condition = (c: CaddyNode): boolean => {
    if (c.name === 'not') return !condition({ name: c.args[0]!, args: c.args.slice(1), body: [] });
    if (c.name === 'path') return c.args.some(pathMatches);
    if (c.name === 'remote_ip' || c.name === 'client_ip') return c.args.some((r) => inRange(remote, r));
    throw new Error(`matcher not supported by this test: ${c.name}`);
  };
  const matcherOf = (n: CaddyNode) => n.args[0]?.startsWith('@') || n.args[0]?.startsWith('/');
  const matches = (n: CaddyNode) => {
    const m = n.args[0];
    if (m?.startsWith('/')) return pathMatches(m);
    if (!m?.startsWith('@')) return true;
    const conditions = named.get(m);
    if (!conditions) throw new Error(`Caddyfile: no matcher ${m}`);
    return conditions.every(condition);
  };
  const answers = (n: CaddyNode): 'blocked' | 'proxied' | 'other' => {
    const args = n.args.filter((a) => !a.startsWith('@') && !a.startsWith('/'));
    if (n.name === 'abort') return 'blocked';
    if (n.name === 'respond' || n.name === 'error')
      return args.some((a) => /^4\d\d$/.test(a)) ? 'blocked' : 'other';
    if (n.name === 'reverse_proxy') return 'proxied';
    return 'other';
  };
  const ORDER = ['handle', 'abort', 'error', 'respond', 'reverse_proxy'];
  for (const n of site.body) {
    if (['route', 'handle_path', 'redir', 'rewrite', 'uri'].includes(n.name)) {
      throw new Error(`directive not supported by this test: ${n.name}`);
    }
  }
  const candidates = site.body
    .filter((n) => ORDER.includes(n.name))
    .sort((a, b) => ORDER.indexOf(a.name) - ORDER.indexOf(b.name) || +!matcherOf(a) - +!matcherOf(b));
  const chosen = candidates.find(matches);
  if (!chosen) return 'other';
  if (chosen.name !== 'handle') return answers(chosen);
  const inner = chosen.body.filter((n) => ORDER.includes(n.name) && n.name !== 'handle');
  return inner.find(matches) ? answers(inner.find(matches)!) : 'other';
}

describe('deploy/caddy/Caddyfile', () => {
  const file = () => readCaddyfile(read('deploy/caddy/Caddyfile'));
  const site = () => caddySite(file());
  /** An address on the internet that no allowlist in the template names (TEST-NET-2). */
  const STRANGER = '198.51.100.23';

  it('serves a domain name, so that Caddy gets and renews its certificate (automatic HTTPS)', () => {
    const address = [site().name, ...site().args].join(' ');
    expect(address).toMatch(/^(https:\/\/)?[a-z0-9-]+(\.[a-z0-9-]+)+$/i);
    expect(address).not.toMatch(/^localhost$|^\d+\.\d+\.\d+\.\d+$/);
    expect(caddyAll(file(), 'auto_https'), 'automatic HTTPS stays on').toEqual([]);
    expect(caddyAll(site().body, 'tls').filter((t) => t.args.includes('internal'))).toEqual([]);
  });

  it("proxies to the API's default port on loopback", () => {
    expect(proxyUpstreams(site())).toEqual([`127.0.0.1:${DEFAULTS.PORT}`]);
  });

  it('passes streamed events on unbuffered (flush_interval -1, no encode)', () => {
    const proxy = caddyAll(site().body, 'reverse_proxy')[0]!;
    expect(proxy.body.find((n) => n.name === 'flush_interval')?.args).toEqual(['-1']);
    expect(caddyAll(site().body, 'encode'), 'compression can hold events back').toEqual([]);
  });

  it('waits for the API longer than SYNC_WAIT_TIMEOUT_MS, and cuts no stream off', () => {
    const proxy = caddyAll(site().body, 'reverse_proxy')[0]!;
    const transport = proxy.body.find((n) => n.name === 'transport' && n.args[0] === 'http');
    for (const name of ['response_header_timeout', 'read_timeout']) {
      const setting = transport?.body.find((n) => n.name === name);
      expect(setting, `transport http { ${name} }`).toBeDefined();
      expect(durationMs(setting!.args[0]!, 1), name).toBeGreaterThan(DEFAULTS.SYNC_WAIT_TIMEOUT_MS);
    }
    const serverTimeouts = caddyAll(file(), 'timeouts').flatMap((t) => t.body.map((n) => n.name));
    expect(serverTimeouts, 'a server write timeout would end every stream at that age').not.toContain(
      'write',
    );
  });

  it('lets request bodies of BODY_LIMIT_BYTES through', () => {
    const limits = caddyAll(site().body, 'request_body').flatMap((r) =>
      r.body.filter((n) => n.name === 'max_size').map((n) => byteSize(n.args[0]!)),
    );
    expect(limits.length, 'request_body { max_size ... }').toBeGreaterThan(0);
    for (const limit of limits) expect(limit).toBeGreaterThanOrEqual(DEFAULTS.BODY_LIMIT_BYTES);
  });

  it('blocks /admin and /dashboard (from addresses not on an allowlist), proxies the rest', () => {
    for (const path of ADMIN_PATHS) expect(caddyOutcome(site(), path, STRANGER), path).toBe('blocked');
    for (const path of API_PATHS) expect(caddyOutcome(site(), path, STRANGER), path).toBe('proxied');
  });
});

describe('deploy/README.md: exposing it safely', () => {
  const readme = read('deploy/README.md');
  const section = (heading: string) => {
    const start = readme.indexOf(`\n${heading}\n`);
    if (start < 0) throw new Error(`deploy/README.md has no "${heading}"`);
    const level = heading.split(' ')[0]!;
    const rest = readme.slice(start + heading.length + 2);
    const end = rest.search(new RegExp(`\\n#{1,${level.length}} `));
    return end < 0 ? rest : rest.slice(0, end);
  };
  const exposing = () => section('## Exposing it safely');
  /** The `TRUST_PROXY` table: first cell → the value in the last cell. */
  const trustProxyRows = () =>
    exposing()
      .split('\n')
      .flatMap((l) => {
        const m = /^\|(.*)\|\s*`(\d+)`\s*\|$/.exec(l);
        return m ? [{ setup: m[1]!, value: m[2]! }] : [];
      });

  it.each([
    ['Caddy', /Caddy/, 'deploy/caddy/Caddyfile'],
    ['Cloudflare Tunnel', /cloudflared|Tunnel/, 'deploy/cloudflared/config.yml'],
  ])('states the TRUST_PROXY that %s needs (one hop), as its template does', (_, setup, template) => {
    const row = trustProxyRows().find((r) => setup.test(r.setup));
    expect(row, 'a row of the TRUST_PROXY table').toBeDefined();
    expect(loadConfig({ TRUST_PROXY: row!.value }).TRUST_PROXY).toBe(1);
    expect(read(template)).toContain(`TRUST_PROXY=${row!.value}`);
  });

  it('warns about /admin and /dashboard, the admin key, and HOST', () => {
    const text = exposing();
    expect(text).toMatch(/\*\*Warning[^*]*`\/admin\/\*`[^*]*`\/dashboard`/);
    expect(text).toMatch(/BRIDGE_ADMIN_KEY[^.]*long and random/);
    expect(text).toContain('HOST=127.0.0.1');
    expect(text).toContain('127.0.0.1:3456:3456');
  });

  it("has the tunnel answer sync requests within Cloudflare's 100 s (SYNC_WAIT_TIMEOUT_MS)", () => {
    const values = [...section('### Cloudflare Tunnel').matchAll(/SYNC_WAIT_TIMEOUT_MS=(\d+)/g)].map(
      (m) => m[1]!,
    );
    expect(values.length).toBeGreaterThan(0);
    for (const v of values)
      expect(loadConfig({ SYNC_WAIT_TIMEOUT_MS: v }).SYNC_WAIT_TIMEOUT_MS).toBeLessThan(100_000);
  });
});
