import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docker, freePort, ROOT, waitUntil, type CreatedJson } from './harness/cluster';

const run = promisify(execFile);

// The README's "Run with docker compose": Debian's docker-compose starts berth's own image (built
// by set-up) as a manager and an agent; berthctl inside the manager's container creates an
// instance the mariadb client logs in to; restarting the agent service leaves it serving.
describe('docker-compose.yml', () => {
  const id = randomBytes(3).toString('hex');
  const project = `berthct${id}`;
  const node = `ct-${id}`;
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-compose-'));
  let env: NodeJS.ProcessEnv;

  const compose = (...args: string[]) => run('docker-compose', ['-p', project, '-f', path.join(ROOT, 'docker-compose.yml'), ...args], { cwd: ROOT, env, timeout: 120_000 });
  const ctl = async (...args: string[]) => (await compose('exec', '-T', 'manager', 'berthctl', ...args)).stdout;
  const projectContainers = async () => docker.listContainers({ all: true, filters: JSON.stringify({ label: [`com.docker.compose.project=${project}`] }) });
  const service = async (name: string) => {
    const c = (await projectContainers()).find((x) => x.Labels['com.docker.compose.service'] === name);
    if (!c) throw new Error(`no ${name} container in project ${project}`);
    return docker.getContainer(c.Id).inspect();
  };
  const login = (c: CreatedJson, sql: string) =>
    run('mariadb', ['-h', c.host, '-P', String(c.port), '-u', c.user, '--batch', '--skip-column-names', '-e', sql], { env: { ...process.env, MYSQL_PWD: c.password } });

  beforeAll(async () => {
    env = {
      ...process.env,
      BERTH_DATA: data,
      BERTH_NODE: node,
      BERTH_PORTS: '3461-3470',
      BERTH_GRPC_PORT: String(await freePort()),
      BERTH_ADMIN_PORT: String(await freePort()),
      BERTH_AGENT_PORT: String(await freePort()),
    };
    await compose('up', '-d');
    await waitUntil('both services healthy', async () => (await service('manager')).State.Health?.Status === 'healthy' && (await service('agent')).State.Health?.Status === 'healthy', 90_000, 500);
  });

  afterAll(async () => {
    await compose('down', '-v', '--remove-orphans').catch(() => undefined);
    // Instances the agent made are not compose's: remove any a failed test left behind.
    for (const c of await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`berth.node=${node}`] }) })) {
      await docker.getContainer(c.Id).remove({ force: true, v: true });
    }
    fs.rmSync(data, { recursive: true, force: true });
  });

  it('runs the manager as a non-root user and the agent as root with one capability, both restarting unless stopped', async () => {
    const manager = await service('manager');
    const agent = await service('agent');
    expect((await compose('exec', '-T', 'manager', 'id', '-u')).stdout.trim()).toBe('10001');
    expect(agent.Config.User).toBe('0:0');
    for (const c of [manager, agent]) {
      expect(c.HostConfig.RestartPolicy?.Name).toBe('unless-stopped');
      expect(c.HostConfig.NetworkMode).toBe('host');
      expect(c.HostConfig.ReadonlyRootfs).toBe(true);
      expect(c.HostConfig.CapDrop).toEqual(['ALL']);
    }
    expect(manager.HostConfig.CapAdd ?? []).toEqual([]);
    expect(agent.HostConfig.CapAdd).toEqual(['DAC_OVERRIDE']);
    const mounts = (c: typeof manager) => c.Mounts.map((m) => [m.Type, m.Name ?? m.Source, m.Destination, m.RW]).sort((a, b) => String(a[2]).localeCompare(String(b[2])));
    expect(mounts(manager)).toEqual([['volume', `${project}_berth-state`, '/var/lib/berth', true], ['volume', `${project}_berth-node-tls`, '/var/lib/berth-node', true]]);
    // The agent never sees the manager's state (CA key, password key, store, admin key/token):
    // only the CA certificate and the node and MySQL certificates, read-only.
    expect(mounts(agent).filter((m) => m[0] === 'volume')).toEqual([['volume', `${project}_berth-node-tls`, '/var/lib/berth-node', false]]);
    const files = (await compose('exec', '-T', 'agent', 'ls', '/var/lib/berth-node/tls')).stdout.split(/\s+/).filter(Boolean).sort();
    expect(files).toContain('ca.crt');
    expect(files.filter((f) => !/^(ca\.crt|(node|mysql)-[a-z0-9.-]+\.(crt|key))$/.test(f))).toEqual([]);
  });

  it('the admin HTTP server wants the token the manager made; berthctl capacity in the manager finds it', async () => {
    const port = env.BERTH_ADMIN_PORT ?? '7480';
    expect((await fetch(`http://127.0.0.1:${port}/v1/capacity`)).status).toBe(401);
    expect(await ctl('capacity', '--admin', `http://127.0.0.1:${port}`)).toContain(node);
    expect((await compose('exec', '-T', 'manager', 'stat', '-c', '%a', '/var/lib/berth/admin-token')).stdout.trim()).toBe('600');
  });

  it('berthctl creates an instance the mariadb client logs in to; it survives a restart of the agent service; delete cleans up', async () => {
    const c = JSON.parse(await ctl('instance', 'create', '--name', 'composed', '--cpu', '500m', '--memory', '512M', '--disk', '1G', '--wait', '--json')) as CreatedJson;
    expect(c).toMatchObject({ node, host: '127.0.0.1', port: 3461, user: 'admin', state: 'running' });
    expect((await login(c, 'CREATE DATABASE app; CREATE TABLE app.t (v INT); INSERT INTO app.t VALUES (42); SELECT CURRENT_USER()')).stdout.trim()).toBe('admin@%');
    const before = (await docker.listContainers({ filters: JSON.stringify({ label: [`berth.instance=${c.id}`] }) })).map((x) => x.Id);
    expect(before).toHaveLength(1);
    // The agent (warm create on by default) builds its data directory template after the first
    // create; waited for here so the restart below does not cut a build short.
    const templates = path.join(data, node, 'berth', '.templates');
    await waitUntil('the data directory template to be ready', async () => fs.existsSync(templates) && fs.readdirSync(templates).some((e) => !e.endsWith('.building')), 60_000, 200);

    const agentStarted = (await service('agent')).State.StartedAt;
    await compose('restart', 'agent');
    await waitUntil(
      'the restarted agent healthy',
      async () => {
        const a = await service('agent');
        return a.State.StartedAt !== agentStarted && a.State.Health?.Status === 'healthy';
      },
      60_000,
      500,
    );
    const got = JSON.parse(await ctl('--json', 'instance', 'get', 'composed')) as { state: string; containerId: string };
    expect(got).toMatchObject({ state: 'running', containerId: before[0] });
    expect((await login(c, 'SELECT v FROM app.t')).stdout.trim()).toBe('42');

    expect(await ctl('instance', 'delete', 'composed', '--wait')).toMatch(/succeeded/);
    expect(await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`berth.node=${node}`] }) })).toEqual([]);
    // The agent moves a deleted instance's directory to the disk's trash (purged after 24 h).
    // (and keeps the template, which belongs to no instance, and the certificate revocation
    // list it got from the manager).
    expect(fs.readdirSync(path.join(data, node, 'berth')).sort()).toEqual(['.leader-epoch', '.revocations.json', '.templates', '.trash']);
    expect(fs.readdirSync(path.join(data, node, 'berth', '.trash')).filter((d) => d.startsWith(`${c.id}-`))).toHaveLength(1);
  });

  it('docker-compose down -v removes the containers and the state volume', async () => {
    await compose('down', '-v');
    expect(await projectContainers()).toEqual([]);
    const { Volumes } = await docker.listVolumes({ filters: JSON.stringify({ label: [`com.docker.compose.project=${project}`] }) });
    expect(Volumes ?? []).toEqual([]);
  });
});
