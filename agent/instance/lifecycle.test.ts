import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log';
import type { DockerEngine, OwnedContainer } from '../docker';
import { trashDir } from './datadir';
import { layoutFor } from './layout';
import { Instances } from './lifecycle';
import { readRecord } from './record';

// Docker as far as listing, stopping and removing labelled containers goes.
class FakeDocker {
  containers: OwnedContainer[] = [];
  calls: string[] = [];
  async list(labels: Record<string, string>) {
    return this.containers.filter((c) => Object.entries(labels).every(([k, v]) => c.labels[k] === v));
  }
  async stop(id: string) {
    this.calls.push(`stop ${id}`);
  }
  async remove(id: string) {
    this.calls.push(`remove ${id}`);
    this.containers = this.containers.filter((c) => c.id !== id);
  }
}

const ID = 'i-00aa11bb22';
const G = 1024 ** 3;

function setup() {
  const disk = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-lc-'));
  const docker = new FakeDocker();
  const make = () => new Instances(docker as unknown as DockerEngine, { node: 'n1', host: '127.0.0.1', disks: [disk], portMin: 3301, portMax: 3399 }, createLogger('test', 'silent'));
  const layout = layoutFor(disk, ID);
  fs.mkdirSync(layout.dirs.conf, { recursive: true });
  fs.writeFileSync(layout.mycnf, '[mysqld]\nserver-id = 42\n');
  return { disk, docker, make, layout };
}

// A container as the agent made them before desired-state records: the shape in its labels.
const oldStyle = (disk: string): OwnedContainer => ({
  id: 'c1',
  name: 'berth-orders-00aa11',
  state: 'running',
  image: 'berth/mariadb:10.11',
  labels: {
    'berth.managed': 'true', 'berth.node': 'n1', 'berth.instance': ID, 'berth.name': 'orders', 'berth.role': 'mysqld', 'berth.port': '3305', 'berth.disk': disk,
    'berth.cpu-millis': '500', 'berth.memory-bytes': String(G / 2), 'berth.disk-bytes': String(G), 'berth.flavor': 'mariadb', 'berth.version': '10.11.6',
  },
});

describe('Instances (agent)', () => {
  it('lists a container made before records existed, writes its record once, and agrees after a restart', async () => {
    const { disk, docker, make, layout } = setup();
    docker.containers.push(oldStyle(disk));
    const want = { id: ID, name: 'orders', port: 3305, diskPath: disk, cpuMillis: 500, memoryBytes: G / 2, diskBytes: G, state: 'running', containerId: 'c1', flavor: 'mariadb', version: '10.11.6' };
    expect(await make().list()).toEqual([{ ...want, image: 'berth/mariadb:10.11' }]);
    expect(await readRecord(layout)).toMatchObject({ id: ID, serverId: 42, port: 3305, shape: { cpuMillis: 500 } });

    // Another agent process, same containers and files: the same answer, now from the record.
    const again = make();
    expect(await again.get(ID)).toMatchObject(want);
    fs.rmSync(disk, { recursive: true });
  });

  it('reports the shape from its record after a change, though the labels cannot change', async () => {
    const { disk, docker, make } = setup();
    docker.containers.push(oldStyle(disk));
    const agent = make();
    await agent.list();
    const changed = await agent.updateDesired(ID, { shape: { cpuMillis: 2000, memoryBytes: 2 * G, diskBytes: 3 * G }, role: 'replica' });
    expect(changed).toMatchObject({ cpuMillis: 2000, memoryBytes: 2 * G, diskBytes: 3 * G });
    expect(await make().get(ID)).toMatchObject({ cpuMillis: 2000, memoryBytes: 2 * G, diskBytes: 3 * G });
    expect(docker.containers[0]!.labels['berth.cpu-millis']).toBe('500');
    fs.rmSync(disk, { recursive: true });
  });

  it('removes the containers and the files, and says whether anything was there', async () => {
    const { disk, docker, make, layout } = setup();
    docker.containers.push(oldStyle(disk));
    const agent = make();
    expect((await agent.remove(ID)).existed).toBe(true);
    expect(docker.calls).toEqual(['stop c1', 'remove c1']);
    expect(fs.existsSync(layout.root)).toBe(false);
    expect((await agent.remove(ID)).existed).toBe(false);
    fs.rmSync(disk, { recursive: true });
  });

  it('a purging remove leaves nothing in the trash; a plain one keeps the files there', async () => {
    const { disk, docker, make, layout } = setup();
    docker.containers.push(oldStyle(disk));
    const agent = make();
    expect(await agent.remove(ID, { purge: true })).toEqual({ existed: true, dataKept: false, dataPath: '', trashPath: '' });
    expect(fs.existsSync(layout.root)).toBe(false);
    expect(fs.readdirSync(trashDir(disk))).toEqual([]);

    fs.mkdirSync(layout.dirs.conf, { recursive: true });
    expect((await agent.remove(ID)).existed).toBe(true);
    expect(fs.readdirSync(trashDir(disk))).toHaveLength(1);
    fs.rmSync(disk, { recursive: true });
  });

  it('never purges files mysqld has run on unless the caller showed they hold nothing the survivor lacks', async () => {
    const started = () => {
      const x = setup();
      x.docker.containers.push(oldStyle(x.disk));
      return x;
    };
    const a = started();
    const agent = a.make();
    await agent.list();
    const rec = (await readRecord(a.layout))!;
    fs.writeFileSync(path.join(a.layout.root, 'instance.json'), JSON.stringify({ ...rec, firstStartedAt: '2026-01-01T00:00:00.000Z' }));
    const kept = await agent.remove(ID, { purge: true });
    expect(kept.trashPath).toMatch(new RegExp(`^${trashDir(a.disk)}/${ID}-\\d{13}$`));
    expect(fs.existsSync(path.join(kept.trashPath, 'instance.json'))).toBe(true);

    const b = started();
    const agentB = b.make();
    await agentB.list();
    const recB = (await readRecord(b.layout))!;
    fs.writeFileSync(path.join(b.layout.root, 'instance.json'), JSON.stringify({ ...recB, firstStartedAt: '2026-01-01T00:00:00.000Z' }));
    expect(await agentB.remove(ID, { purge: true, purgeStartedData: true })).toMatchObject({ existed: true, trashPath: '' });
    expect(fs.readdirSync(trashDir(b.disk))).toEqual([]);
    fs.rmSync(a.disk, { recursive: true });
    fs.rmSync(b.disk, { recursive: true });
  });

  it('keeps the files of a data directory mysqld has started on when asked to, and only then', async () => {
    const { disk, docker, make, layout } = setup();
    docker.containers.push(oldStyle(disk));
    const agent = make();
    await agent.list();
    // Never started (no firstStartedAt in the record): removed even when asked to keep.
    expect(await agent.remove(ID, { keepStartedData: true })).toMatchObject({ existed: true, dataKept: false, dataPath: '' });
    expect(fs.existsSync(layout.root)).toBe(false);

    const again = setup();
    again.docker.containers.push(oldStyle(again.disk));
    const b = again.make();
    await b.list();
    const rec = (await readRecord(again.layout))!;
    fs.writeFileSync(path.join(again.layout.root, 'instance.json'), JSON.stringify({ ...rec, firstStartedAt: '2026-01-01T00:00:00.000Z' }));
    expect(await b.remove(ID, { keepStartedData: true })).toEqual({ existed: true, dataKept: true, dataPath: again.layout.root, trashPath: '' });
    expect(again.docker.containers).toEqual([]);
    expect(fs.existsSync(again.layout.mycnf)).toBe(true);
    // Without the flag the same data goes to the trash.
    expect(await b.remove(ID)).toMatchObject({ existed: true, dataKept: false, dataPath: '' });
    expect(fs.existsSync(again.layout.root)).toBe(false);
    fs.rmSync(disk, { recursive: true });
    fs.rmSync(again.disk, { recursive: true });
  });
});
