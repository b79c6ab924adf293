// Runs the benches (all, or those named: `node bench/run.mjs overhead floor`), prints a table for
// each and writes bench/results/<name>-<timestamp>.json. Options go to every bench as
// `--key=value` (e.g. `--n1=200 --jobs=1000`); each bench documents its own.
// `npm run bench` builds first; this script expects the packages' dist/ and tests/dist/ (the test
// helpers the benches share, see bench/lib/common.mjs) to be current.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { log, parseFlags, ROOT, runInterruptCleanups } from './lib/common.mjs';

const BENCHES = [
  'overhead',
  'floor',
  'memory',
  'cold-start',
  'submit-throughput',
  'admission',
  'ttft',
  'trace',
  'warm',
];

const loadavg = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);

export function machineInfo() {
  const cpuModel =
    /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model;
  const git = (...args) => {
    try {
      return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
    } catch {
      return null;
    }
  };
  const status = git('status', '--porcelain');
  return {
    date: new Date().toISOString(),
    nproc: Number(execFileSync('nproc', { encoding: 'utf8' }).trim()),
    cpuModel,
    memTotalMiB: Math.round(totalmem() / 1024 / 1024),
    node: process.version,
    gitHead: git('rev-parse', '--short', 'HEAD'),
    gitDirty: status === null ? null : status.length > 0,
    loadavgAtStart: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  };
}

/** A plain-text table of an array of flat objects (also valid Markdown). */
export function formatTable(rows) {
  if (!rows?.length) return '(no rows)';
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v) => (v === undefined || v === null ? '' : String(v));
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals) => `| ${vals.map((v, i) => v.padEnd(width[i])).join(' | ')} |`;
  return [
    line(cols),
    line(width.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(cols.map((c) => cell(r[c])))),
  ].join('\n');
}

async function main() {
  const argv = process.argv.slice(2);
  const named = argv.filter((a) => !a.startsWith('--'));
  const unknown = named.filter((n) => !BENCHES.includes(n));
  if (unknown.length) {
    process.stderr.write(`unknown bench: ${unknown.join(', ')} (have: ${BENCHES.join(', ')})\n`);
    process.exit(2);
  }
  const opts = parseFlags(argv);
  const which = named.length ? named : BENCHES;
  const machine = machineInfo();
  const resultsDir = join(ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });

  let interrupted = false;
  const onSignal = (sig) => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${sig}: cleaning up (again to force)`);
    void runInterruptCleanups().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  console.log(
    `machine: ${machine.nproc} × ${machine.cpuModel}, ${machine.memTotalMiB} MiB, node ${machine.node}, ` +
      `git ${machine.gitHead}${machine.gitDirty ? ' (uncommitted changes)' : ''}, load ${machine.loadavgAtStart}`,
  );
  let failed = 0;
  for (const name of which) {
    const mod = await import(`./${name}.mjs`);
    const t0 = performance.now();
    const loadBefore = loadavg();
    console.log(`\n## ${name}`);
    let result;
    try {
      result = await mod.run(opts);
    } catch (err) {
      failed++;
      console.log(`FAILED: ${err?.stack ?? err}`);
      continue;
    }
    result.elapsedS = Math.round((performance.now() - t0) / 1000);
    // Other work on the machine skews every figure; the 1-minute load average says how much.
    result.loadavg1m = { before: loadBefore, after: loadavg() };
    result.machine = machine;
    console.log(formatTable(result.table));
    for (const n of result.notes ?? []) console.log(`- ${n}`);
    console.log(
      `(${result.elapsedS} s; 1-min load average ${result.loadavg1m.before} → ${result.loadavg1m.after} on ${machine.nproc} CPUs)`,
    );
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const file = join(resultsDir, `${name}-${stamp}.json`);
    writeFileSync(file, JSON.stringify(result, null, 2) + '\n');
    console.log(`→ ${file}`);
  }
  process.exitCode = failed ? 1 : 0;
}

await main();
