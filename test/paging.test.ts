import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeAgent } from './harness/fake-agent';
import { ROOT, TestCluster } from './harness/cluster';

const G = 1024 ** 3;
const run = promisify(execFile);

// ListNodes and ListInstances come in pages (page token, size at most 1000), through the real
// manager over TLS with simulated nodes.
describe('pagination', () => {
  const cluster = new TestCluster();
  let agents: FakeAgent[] = [];

  beforeAll(async () => {
    await cluster.start([]);
    agents = await Promise.all(
      Array.from({ length: 23 }, (_, i) =>
        new FakeAgent({ name: cluster.nodeName(`p${String(i).padStart(2, '0')}`), cpuMillis: 8000, memoryBytes: 16 * G, disks: [100 * G], ports: [4000 + i * 10, 4009 + i * 10] }, cluster.registryAddress, cluster.tlsDir).start(),
      ),
    );
    for (let i = 0; i < 17; i++) await cluster.portal.createInstance({ name: `pg${i}`, resources: { cpuMillis: 500, memoryBytes: G, diskBytes: G } });
  });
  afterAll(async () => {
    await cluster.stop();
    await Promise.all(agents.map((a) => a.stop()));
  });

  it('walks nodes and instances page by page, each exactly once, and refuses pages over 1000', async () => {
    const walk = async <T>(get: (token: string) => Promise<{ items: T[]; next: string }>) => {
      const out: T[] = [];
      let token = '';
      let pages = 0;
      do {
        const p = await get(token);
        expect(p.items.length).toBeLessThanOrEqual(5);
        out.push(...p.items);
        token = p.next;
        pages++;
      } while (token);
      return { out, pages };
    };
    const nodes = await walk(async (pageToken) => {
      const r = await cluster.portal.listNodes({ pageSize: 5, pageToken });
      return { items: r.nodes.map((n) => n.name), next: r.nextPageToken };
    });
    expect(nodes.pages).toBe(5);
    expect(nodes.out).toEqual(agents.map((a) => a.spec.name).sort());
    const insts = await walk(async (pageToken) => {
      const r = await cluster.portal.listInstances({ pageSize: 5, pageToken });
      return { items: r.instances.map((i) => i.name), next: r.nextPageToken };
    });
    expect(insts.pages).toBe(4);
    expect(new Set(insts.out).size).toBe(17);
    await expect(cluster.portal.listNodes({ pageSize: 1001 })).rejects.toMatchObject({ details: expect.stringMatching(/between 1 and 1000/) });
    await expect(cluster.portal.listInstances({ pageToken: 'forged' })).rejects.toMatchObject({ details: expect.stringMatching(/page_token/) });
    // berthctl follows the pages (default size) and shows everything.
    const listed = JSON.parse((await run(process.execPath, [path.join(ROOT, 'bin/berthctl.js'), '--manager', cluster.managerAddress, '--json', 'node', 'list'])).stdout) as { name: string }[];
    expect(listed).toHaveLength(23);
  });

  it('a repeated create (same name, shape, options) returns the existing instance and operation; another shape stays ALREADY_EXISTS', async () => {
    const shape = { cpuMillis: 500, memoryBytes: G, diskBytes: G };
    const first = await cluster.portal.getInstance({ instance: 'pg3' });
    const again = await cluster.portal.createInstance({ name: 'pg3', resources: shape });
    expect(again.instance!.id).toBe(first.id);
    expect(again.operation!.type).toBe('create');
    await expect(cluster.portal.createInstance({ name: 'pg3', resources: { ...shape, memoryBytes: 2 * G } })).rejects.toMatchObject({ details: expect.stringMatching(/already exists/) });
    // A burst of identical creates of a new name: every call succeeds, one instance exists.
    const burst = await Promise.all(Array.from({ length: 40 }, () => cluster.portal.createInstance({ name: 'burst', resources: shape })));
    expect(new Set(burst.map((b) => b.instance!.id)).size).toBe(1);
    expect(new Set(burst.map((b) => b.operation!.id)).size).toBe(1);
    expect((await cluster.portal.listInstances({})).instances.filter((i) => i.name === 'burst')).toHaveLength(1);
  });
});
