#!/usr/bin/env node
// A mutation check you can rerun: applies each targeted mutation of scripts/mutations.json to
// the product code, runs the tests named for it, restores the file (always, even on failure or
// Ctrl-C) and prints which tests caught it and a score. Slow (integration tests run against real
// Docker, under the machine-wide integration lock), so it is not part of `npm test`.
//
//   npm run test:mutate                       # all of them
//   npm run test:mutate -- --only id1,id2     # some (--skip id1,id2: all but these)
//   npm run test:mutate -- --module table     # the rows of issue 14 (or auth, engine, …)
//   npm run test:mutate -- --list
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(ROOT);
const LOCK = process.env.BERTH_INTEGRATION_LOCK ?? '/tmp/berth-integration.lock';
const TIMEOUT_MS = Number(process.env.BERTH_MUTATE_TIMEOUT_MS ?? 15 * 60_000);
const OUT = path.join(ROOT, '.berth', 'mutate.json');

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
let list = JSON.parse(fs.readFileSync(path.join(ROOT, 'scripts', 'mutations.json'), 'utf8')).mutations;
if (opt('--only')) {
  const ids = new Set(opt('--only').split(','));
  list = list.filter((m) => ids.has(m.id));
}
if (opt('--skip')) {
  const ids = new Set(opt('--skip').split(','));
  list = list.filter((m) => !ids.has(m.id));
}
const mod = opt('--module');
if (mod) list = list.filter((m) => (mod === 'table' ? m.table : m.module === mod));
if (args.includes('--list')) {
  for (const m of list) console.log(`${m.id.padEnd(36)} ${m.module.padEnd(10)} ${m.file}  -> ${m.tests.join(' ')}`);
  process.exit(0);
}

// Originals of files currently mutated: restored on any exit path.
const pending = new Map();
function restoreAll() {
  for (const [file, text] of pending) fs.writeFileSync(file, text);
  pending.clear();
}
process.on('exit', restoreAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    for (const p of children) killTree(p);
    restoreAll();
    process.exit(130);
  });
}

// Asynchronous on purpose: a signal (Ctrl-C) is only handled between awaits, and the handler
// must get to restore the mutated file.
const children = new Set();
function run(cmd, argv, { lock = false } = {}) {
  const [c, a] = lock ? ['flock', [LOCK, cmd, ...argv]] : [cmd, argv];
  return new Promise((resolve) => {
    const p = spawn(c, a, { cwd: ROOT, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    children.add(p);
    let out = '';
    p.stdout.on('data', (b) => (out = (out + b).slice(-200_000)));
    p.stderr.on('data', (b) => (out = (out + b).slice(-200_000)));
    const timer = setTimeout(() => killTree(p), TIMEOUT_MS);
    p.on('close', (status, signal) => {
      clearTimeout(timer);
      children.delete(p);
      resolve({ status: status ?? 1, signal, out, error: signal ? new Error(`ended by ${signal}`) : undefined });
    });
  });
}

function killTree(p) {
  try {
    process.kill(-p.pid, 'SIGKILL');
  } catch {
    // gone already
  }
}

// Builds dist/ (the integration tests start the compiled programs) from the sources as they are.
async function build() {
  const r = await run('npm', ['run', '--silent', 'build']);
  return r.status === 0 ? undefined : r.out.trim().split('\n').slice(-5).join(' | ');
}

function failedTests(jsonFile) {
  try {
    const r = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
    return r.testResults.flatMap((f) => f.assertionResults.filter((t) => t.status === 'failed').map((t) => `${path.relative(ROOT, f.name)} > ${t.title}`));
  } catch {
    return [];
  }
}

const results = [];
let needRebuild = false;
const t0 = Date.now();
for (const m of list) {
  const original = fs.readFileSync(m.file, 'utf8');
  const stale = m.replace.find((r) => original.split(r.from).length !== 2);
  if (stale) {
    results.push({ id: m.id, module: m.module, table: !!m.table, outcome: 'stale', caughtBy: [], note: `snippet not found exactly once: ${stale.from.slice(0, 60)}` });
    console.log(`- ${m.id}: STALE (update scripts/mutations.json)`);
    continue;
  }
  const started = Date.now();
  let outcome = 'survived';
  let caughtBy = [];
  let note = '';
  pending.set(m.file, original);
  try {
    let text = original;
    for (const r of m.replace) text = text.replace(r.from, () => r.to);
    fs.writeFileSync(m.file, text);
    // Unit tests first: a mutant they kill needs no slow integration run (one failing test is enough).
    const unit = m.tests.filter((f) => !f.startsWith('test/'));
    const integration = m.tests.filter((f) => f.startsWith('test/'));
    outcome = 'survived';
    for (const files of [unit, integration]) {
      if (files.length === 0 || outcome === 'killed') continue;
      const slow = files === integration;
      const buildError = slow ? await build() : undefined;
      if (slow) needRebuild = true;
      if (buildError) {
        // A mutant that does not compile is caught by `npm test`'s type check.
        outcome = 'killed';
        note = `does not compile: ${buildError}`;
        continue;
      }
      const json = path.join(ROOT, '.berth', `mutate-${m.id}.json`);
      fs.mkdirSync(path.dirname(json), { recursive: true });
      fs.rmSync(json, { force: true });
      const r = await run('npx', ['vitest', 'run', '--reporter=json', `--outputFile=${json}`, ...files], { lock: slow });
      caughtBy = failedTests(json);
      fs.rmSync(json, { force: true });
      if (r.error) note = `runner: ${r.error.message}`;
      if (r.status !== 0) outcome = 'killed';
      if (outcome === 'killed' && caughtBy.length === 0) note ||= r.out.trim().split('\n').slice(-3).join(' | ');
    }
  } finally {
    fs.writeFileSync(m.file, original);
    pending.delete(m.file);
  }
  const secs = Math.round((Date.now() - started) / 1000);
  results.push({ id: m.id, module: m.module, table: !!m.table, outcome, caughtBy, note, seconds: secs });
  console.log(`- ${m.id}: ${outcome.toUpperCase()} in ${secs} s${caughtBy.length ? `\n    caught by: ${caughtBy.join('\n               ')}` : ''}${note ? `\n    ${note}` : ''}`);
}
if (needRebuild) {
  const e = await build();
  if (e) console.log(`rebuilding dist/ from the restored sources failed: ${e}`);
}

const scored = results.filter((r) => r.outcome !== 'stale');
const killed = scored.filter((r) => r.outcome === 'killed').length;
console.log('\nmutation                              module     outcome');
for (const r of results) console.log(`${(r.id + (r.table ? ' *' : '')).padEnd(38)}${r.module.padEnd(11)}${r.outcome}`);
const score = scored.length ? ((100 * killed) / scored.length).toFixed(1) : '0';
console.log(`\nscore: ${killed}/${scored.length} killed (${score}%)${results.length > scored.length ? `, ${results.length - scored.length} stale` : ''} in ${Math.round((Date.now() - t0) / 1000)} s   (* = a row of issue 14)`);
fs.mkdirSync(path.dirname(OUT), { recursive: true });
fs.writeFileSync(OUT, JSON.stringify({ at: new Date().toISOString(), killed, total: scored.length, results }, null, 2));
console.log(`details: ${path.relative(ROOT, OUT)}`);
process.exitCode = killed === scored.length ? 0 : 1;
