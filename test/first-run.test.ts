import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, freePort, ROOT, waitUntil, type CreatedJson } from './harness/cluster';

const run = promisify(execFile);

// The README's first run, as a DBA would do it: `npm start`, then `npx berthctl instance create
// --wait --json` (MariaDB by default, MySQL with --flavor mysql), then log in with the mariadb
// command-line client.
describe('README first run', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-first-run-'));
  const node = `fr-${process.pid}`;
  let start: ChildProcess | undefined;
  let output = '';
  let env: NodeJS.ProcessEnv;
  let startEnv: NodeJS.ProcessEnv;

  async function npmStart(): Promise<void> {
    output = '';
    start = spawn('npm', ['start'], { cwd: ROOT, env: startEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    start.stdout!.on('data', (b: Buffer) => (output += b.toString()));
    start.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    await waitUntil('npm start to say ready', async () => output.includes('berth is ready') || (start!.exitCode !== null && Promise.reject(new Error(output))), 120_000);
  }

  async function npmStop(): Promise<void> {
    // npm start runs a shell that runs node processes: end the whole process group.
    if (start?.pid && start.exitCode === null) {
      const exited = new Promise((r) => start!.once('exit', r));
      process.kill(-start.pid, 'SIGTERM');
      await exited;
    }
  }

  const ctl = (...args: string[]) => run('npx', ['berthctl', ...args], { cwd: ROOT, env });
  const create = async (name: string, ...args: string[]) =>
    JSON.parse((await ctl('instance', 'create', '--name', name, '--cpu', '1', '--memory', '512M', '--disk', '1G', '--wait', '--json', ...args)).stdout) as CreatedJson;
  // The password goes through the environment, never the command line.
  const login = (c: CreatedJson, password: string, sql: string) =>
    run('mariadb', ['-h', c.host, '-P', String(c.port), '-u', c.user, '--batch', '--skip-column-names', '-e', sql], { env: { ...process.env, MYSQL_PWD: password } });

  beforeAll(async () => {
    const grpcAddr = `127.0.0.1:${await freePort()}`;
    startEnv = { ...process.env, BERTH_STATE_DIR: dir, BERTH_GRPC: grpcAddr, BERTH_AGENT: `127.0.0.1:${await freePort()}`, BERTH_REGISTRY: `127.0.0.1:${await freePort()}`, BERTH_NODE: node, BERTH_PORTS: '3431-3440' };
    env = { ...process.env, BERTH_STATE_DIR: dir };
    await npmStart();
  });

  afterAll(async () => {
    await npmStop();
    for (const c of await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`berth.node=${node}`] }) })) {
      await docker.getContainer(c.Id).remove({ force: true, v: true });
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('npm start, then berthctl create --wait --json gives credentials the mariadb client logs in with', async () => {
    // berthctl finds the manager's address and the admin certificate in the config file that
    // npm start wrote into the state directory: no flags, nothing but BERTH_STATE_DIR.
    const conf = JSON.parse(fs.readFileSync(path.join(dir, 'berthctl.json'), 'utf8')) as { manager: string; cert: string };
    expect(conf.manager).toBe(startEnv.BERTH_GRPC);
    expect(fs.statSync(dir).mode & 0o077).toBe(0);
    // The admin HTTP token the manager made: shown once with how to use it, kept 0600, and read
    // by berthctl capacity from the same state directory.
    const token = fs.readFileSync(path.join(dir, 'admin-token'), 'utf8').trim();
    expect(fs.statSync(path.join(dir, 'admin-token')).mode & 0o777).toBe(0o600);
    expect(output.split(token).length - 1).toBe(1);
    expect(output).toMatch(/berthctl capacity reads it/);
    expect((await ctl('capacity')).stdout).toContain(node);
    const c = await create('first');
    expect(c).toMatchObject({ node, host: '127.0.0.1', port: 3431, user: 'admin', state: 'running' });
    expect(c.id).toMatch(/^i-[0-9a-f]{12}$/);
    expect((await login(c, c.password, 'SELECT CURRENT_USER(), @@port')).stdout.trim()).toBe(`admin@%\t${c.port}`);
    // And a wrong password is refused, so the login above proves the credentials.
    await expect(login(c, 'wrong', 'SELECT 1')).rejects.toThrow(/Access denied/);

    expect((await ctl('instance', 'list')).stdout).toMatch(/first\s+i-[0-9a-f]{12}\s+running/);
    // berthctl events follows the instance's history as it grows (from its first event on);
    // --wait shows the delete's steps on stderr as they run, not only the end.
    const watcher = spawn(process.execPath, [path.join(ROOT, 'bin', 'berthctl.js'), 'events', '--subject', c.id, '--after', '1', '--json'], { cwd: ROOT, env });
    let lines = '';
    watcher.stdout.on('data', (b: Buffer) => (lines += b.toString()));
    try {
      await waitUntil('the create in the event stream', async () => /"kind":"create\.succeeded"/.test(lines), 30_000);
      const del = await ctl('instance', 'delete', 'first', '--wait');
      expect(del.stdout).toMatch(/succeeded/);
      expect(del.stderr).toMatch(/^op-[0-9a-f]+ delete: running, step \d+\/\d+ \S+/m);
      expect(del.stderr).toMatch(/^op-[0-9a-f]+ delete: succeeded$/m);
      await waitUntil('the delete in the event stream, after the create', async () => /"kind":"delete\.succeeded"/.test(lines), 30_000);
      const kinds = lines.trim().split('\n').map((l) => (JSON.parse(l) as { kind: string }).kind);
      expect(kinds.indexOf('delete.succeeded')).toBeGreaterThan(kinds.indexOf('create.succeeded'));
    } finally {
      watcher.kill();
    }
  });

  it('--flavor mysql gives a MySQL 9.7 instance the same mariadb client logs in to over TCP', async () => {
    const c = await create('first-mysql', '--flavor', 'mysql');
    expect(c).toMatchObject({ node, host: '127.0.0.1', user: 'admin', state: 'running' });
    const out = (await login(c, c.password, "SELECT CURRENT_USER(), @@port, VERSION() LIKE '9.7.%', @@version_comment NOT LIKE '%MariaDB%'")).stdout.trim();
    expect(out).toBe(`admin@%\t${c.port}\t1\t1`);
    await expect(login(c, 'wrong', 'SELECT 1')).rejects.toThrow(/Access denied/);
    expect((await ctl('instance', 'list')).stdout).toMatch(/first-mysql\s+i-[0-9a-f]{12}\s+running.*mysql 9\.7\.\d+/);
    expect((await ctl('instance', 'delete', 'first-mysql', '--wait')).stdout).toMatch(/succeeded/);
  });

  it('after a restart npm start says ready only when a create goes through at once', async () => {
    await npmStop();
    // As after a stop longer than the node timeout: the manager comes back reading this node
    // down, until the new agent's first heartbeat.
    const db = new Database(path.join(dir, 'berth.db'));
    expect(db.prepare('UPDATE nodes SET last_heartbeat_ms = 0 WHERE name = ?').run(node).changes).toBe(1);
    db.close();
    await npmStart();
    // No "1 node down (no heartbeat)": the announcement waited for this run's agent.
    const c = await create('after-restart');
    expect(c).toMatchObject({ node, state: 'running' });
    expect((await ctl('instance', 'delete', 'after-restart', '--wait')).stdout).toMatch(/succeeded/);
  });
});

describe('the programs', () => {
  it('every program answers --version with the package version, and --help shows defaults in the option\'s own unit', async () => {
    const version = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    for (const prog of ['dist/manager/main.js', 'dist/agent/main.js', 'bin/berthctl.js']) {
      expect((await run(process.execPath, [path.join(ROOT, prog), '--version'])).stdout.trim()).toBe(version);
    }
    const help = (await run(process.execPath, [path.join(ROOT, 'dist/agent/main.js'), '--help'])).stdout.replace(/\s+/g, ' ');
    expect(help).toContain('--usage-interval <seconds> how often instance memory, CPU and mysqld liveness are measured (default: 5)');
    expect(help).toContain('their size (default: 30)');
    expect(help).toMatch(/--log-format <format> .*\(choices: "auto", "pretty", "json", default: "auto"\)/);
  });
});
