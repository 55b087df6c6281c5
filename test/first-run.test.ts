import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { docker, freePort, ROOT, waitUntil } from './harness/cluster';

const run = promisify(execFile);

// The README's first run, as a DBA would do it: `npm start`, then `npx berthctl instance create
// --wait --json`, then log in with the mariadb command-line client.
describe('README first run', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-first-run-'));
  const node = `fr-${process.pid}`;
  let start: ChildProcess | undefined;
  let output = '';

  afterAll(async () => {
    // npm start runs a shell that runs node processes: end the whole process group.
    if (start?.pid && start.exitCode === null) {
      const exited = new Promise((r) => start!.once('exit', r));
      process.kill(-start.pid, 'SIGTERM');
      await exited;
    }
    for (const c of await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`berth.node=${node}`] }) })) {
      await docker.getContainer(c.Id).remove({ force: true, v: true });
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('npm start, then berthctl create --wait --json gives credentials the mariadb client logs in with', async () => {
    const grpcAddr = `127.0.0.1:${await freePort()}`;
    start = spawn('npm', ['start'], {
      cwd: ROOT,
      env: { ...process.env, BERTH_STATE_DIR: dir, BERTH_GRPC: grpcAddr, BERTH_AGENT: `127.0.0.1:${await freePort()}`, BERTH_REGISTRY: `127.0.0.1:${await freePort()}`, BERTH_NODE: node, BERTH_PORTS: '3431-3440' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    start.stdout!.on('data', (b: Buffer) => (output += b.toString()));
    start.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    await waitUntil('npm start to say ready', async () => output.includes('berth is ready') || (start!.exitCode !== null && Promise.reject(new Error(output))), 120_000);

    // berthctl finds the manager's address and the admin certificate in the config file that
    // npm start wrote into the state directory: no flags.
    const env = { ...process.env, BERTH_STATE_DIR: dir };
    const conf = JSON.parse(fs.readFileSync(path.join(dir, 'berthctl.json'), 'utf8')) as { manager: string; cert: string };
    expect(conf.manager).toBe(grpcAddr);
    expect(fs.statSync(dir).mode & 0o077).toBe(0);
    const created = await run('npx', ['berthctl', 'instance', 'create', '--name', 'first', '--cpu', '1', '--memory', '512M', '--disk', '1G', '--wait', '--json'], { cwd: ROOT, env });
    const c = JSON.parse(created.stdout) as { id: string; node: string; host: string; port: number; user: string; password: string; state: string };
    expect(c).toMatchObject({ node, host: '127.0.0.1', port: 3431, user: 'admin', state: 'running' });
    expect(c.id).toMatch(/^i-[0-9a-f]{12}$/);

    // The password goes through the environment, never the command line.
    const login = await run('mariadb', ['-h', c.host, '-P', String(c.port), '-u', c.user, '--batch', '--skip-column-names', '-e', 'SELECT CURRENT_USER(), @@port'], {
      env: { ...process.env, MYSQL_PWD: c.password },
    });
    expect(login.stdout.trim()).toBe(`admin@%\t${c.port}`);

    // And a wrong password is refused, so the login above proves the credentials.
    await expect(run('mariadb', ['-h', c.host, '-P', String(c.port), '-u', c.user, '-e', 'SELECT 1'], { env: { ...process.env, MYSQL_PWD: 'wrong' } })).rejects.toThrow(/Access denied/);

    const listed = await run('npx', ['berthctl', 'instance', 'list'], { cwd: ROOT, env });
    expect(listed.stdout).toMatch(/first\s+i-[0-9a-f]{12}\s+running/);
    const deleted = await run('npx', ['berthctl', 'instance', 'delete', 'first', '--wait'], { cwd: ROOT, env });
    expect(deleted.stdout).toMatch(/succeeded/);
  });
});
