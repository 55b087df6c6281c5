// Processes and ports for the benchmarks that start a real manager and real agents.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');

export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

// A compiled berth program with its output appended to `log`.
export function start(args: string[], log: string): ChildProcess {
  const fd = fs.openSync(log, 'a');
  return spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', fd, fd] });
}

// A manager on loopback for a benchmark: portal and registry listeners, in plaintext (a
// benchmark on one machine measures berth's work, not TLS; the tests run everything with mTLS).
// `tlsDir` (a `berthctl certs init` directory): mutual TLS instead, for benchmarks of paths
// whose cost includes it.
export async function managerArgs(stateDir: string, extra: string[] = [], tlsDir?: string): Promise<{ args: string[]; portal: string; registry: string }> {
  const portal = `127.0.0.1:${await freePort()}`;
  const registry = `127.0.0.1:${await freePort()}`;
  const args = ['dist/manager/main.js', ...(tlsDir ? ['--tls-dir', tlsDir] : ['--insecure']), '--listen', portal, '--registry-listen', registry, '--state-dir', stateDir, '--admin-listen', `127.0.0.1:${await freePort()}`, ...extra];
  return { args, portal, registry };
}

// bench-results/<name>.json, the file each benchmark's table in the notes comes from.
export function writeResult(name: string, out: unknown): void {
  fs.mkdirSync(path.join(ROOT, 'bench-results'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench-results', `${name}.json`), JSON.stringify(out, null, 2));
}

// What a benchmark started (processes, containers) and must end however it ends: its own
// finally blocks on the normal path, these on a crash (an error no one caught) too.
const cleanups = new Set<() => void>();

// `fn` runs once, synchronously, at the latest when the process exits; call the returned
// function to run it now (and not again at exit).
export function atExit(fn: () => void): () => void {
  const once = () => {
    if (!cleanups.delete(once)) return;
    try {
      fn();
    } catch (err) {
      console.error('cleanup failed:', err);
    }
  };
  cleanups.add(once);
  return once;
}

function cleanUp(): void {
  for (const fn of [...cleanups]) fn();
}

// Exits when `main` ends: database clients left open by a failed run must not keep the process
// (and the machine's integration lock) alive. An error nobody caught is reported with its cause
// and still ends everything the benchmark started.
export function runBench(main: () => Promise<void>): void {
  const fail = (what: string) => (err: unknown) => {
    console.error(`${what}: ${describeError(err)}`);
    cleanUp();
    process.exit(1);
  };
  process.on('uncaughtException', fail('uncaught exception'));
  process.on('unhandledRejection', fail('unhandled rejection'));
  // Ctrl-C, a kill or a closed terminal: what the benchmark started goes with it.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => fail('interrupted')(new Error(sig)));
  process.on('exit', cleanUp);
  main().then(() => {
    cleanUp();
    process.exit(0);
  }, fail('benchmark failed'));
}

// What a benchmark starts on the machine: its processes (a manager, agents) and the containers
// its agents make (found by their node labels). Ended once, however the run ends: by `end()` in
// the benchmark's finally, or at exit after a crash. Processes get SIGTERM, then the containers
// go; a process still there at exit is killed.
export function benchFleet(nodes: string[]): { start: (args: string[], log: string) => ChildProcess; procs: ChildProcess[]; end: () => void } {
  const procs: ChildProcess[] = [];
  const end = atExit(() => {
    for (const p of procs) p.kill('SIGTERM');
    for (const node of nodes) {
      const ids = execFileSync('docker', ['ps', '-aq', '--filter', `label=berth.node=${node}`], { encoding: 'utf8' }).split('\n').filter(Boolean);
      if (ids.length) execFileSync('docker', ['rm', '-f', '-v', ...ids], { stdio: 'ignore' });
    }
    process.once('exit', () => procs.forEach((p) => p.exitCode === null && p.kill('SIGKILL')));
  });
  return { start: (args, log) => (procs.push(start(args, log)), procs.at(-1)!), procs, end };
}

// An error with everything that says why: its stack, its code (ECONNREFUSED, a gRPC status) and
// its causes, so a failed run never reports only "timed out".
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const e = err as Error & { code?: unknown; details?: unknown };
  const code = e.code !== undefined ? ` [code ${String(e.code)}]` : '';
  const cause = e.cause !== undefined ? `\n  caused by: ${describeError(e.cause)}` : '';
  return `${e.stack ?? e.message}${code}${cause}`;
}

// A benchmark's `--name value` option, or its default.
export function argOf(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1]! : dflt;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The middle value (the upper one of an even count); -1 for none, so a bench that measured
// nothing says so in its JSON instead of failing to print.
export const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]! : -1);

// Polls until `fn` gives a value (its errors count as "not yet"), or fails with `what`.
export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 120_000, everyMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(everyMs);
  }
}
