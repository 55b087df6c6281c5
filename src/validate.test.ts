import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { checkAgentCreate, checkAntiAffinityGroup, checkGroupConfig, checkName, checkNodeInfo, checkShape } from './validate';

const G = 1024 ** 3;

describe('checkName', () => {
  it.each(['db1', 'orders-primary', 'a', 'x'.repeat(63)])('accepts %s', (n) => expect(checkName('name', n)).toBe(n));
  it.each(['', 'has space', 'UPPER', '1abc', 'trailing-', 'x'.repeat(64), 'x'.repeat(200), 'semi;colon', '../etc'])(
    'rejects %j with INVALID_ARGUMENT',
    (n) => {
      try {
        checkName('name', n);
        expect.unreachable();
      } catch (e) {
        expect((e as { code: number }).code).toBe(status.INVALID_ARGUMENT);
      }
    },
  );
});

describe('checkShape', () => {
  it('accepts a normal shape', () => {
    expect(checkShape({ cpuMillis: 1000, memoryBytes: G, diskBytes: 5 * G })).toEqual({ cpuMillis: 1000, memoryBytes: G, diskBytes: 5 * G });
  });
  it.each([
    [{ cpuMillis: 1000, memoryBytes: 0, diskBytes: G }, /memory/],
    [{ cpuMillis: -1000, memoryBytes: G, diskBytes: G }, /cpu/],
    [{ cpuMillis: 0, memoryBytes: G, diskBytes: G }, /cpu/],
    [{ cpuMillis: 1000, memoryBytes: G, diskBytes: 0 }, /disk/],
    [{ cpuMillis: 1000, memoryBytes: 1.5, diskBytes: G }, /memory/],
    [null, /required/],
  ])('rejects %j', (shape, msg) => {
    expect(() => checkShape(shape)).toThrow(msg);
  });
});

describe('edge checks shared by the portal, the admin API and the agent', () => {
  const code = (fn: () => unknown) => {
    try {
      fn();
      return 'ok';
    } catch (e) {
      return (e as { code: number }).code;
    }
  };

  it('reads the anti-affinity group from its new field or its deprecated one, never two different ones', () => {
    expect(checkAntiAffinityGroup({ antiAffinityGroup: 'orders' })).toBe('orders');
    expect(checkAntiAffinityGroup({ cluster: 'orders' })).toBe('orders');
    expect(checkAntiAffinityGroup({ antiAffinityGroup: 'orders', cluster: 'orders' })).toBe('orders');
    expect(checkAntiAffinityGroup({})).toBeUndefined();
    expect(code(() => checkAntiAffinityGroup({ antiAffinityGroup: 'a', cluster: 'b' }))).toBe(status.INVALID_ARGUMENT);
    expect(code(() => checkAntiAffinityGroup({ antiAffinityGroup: 'Bad Name' }))).toBe(status.INVALID_ARGUMENT);
  });

  it('checks what an agent is asked to create', () => {
    const ok = { id: 'i-0123456789', name: 'db', image: 'berth/mariadb:10.11', resources: { cpuMillis: 500, memoryBytes: 512 * 1024 ** 2, diskBytes: G }, port: 3301, diskPath: '/data1', serverId: 1, adminUser: 'admin', adminPassword: 'pw' };
    expect(checkAgentCreate(ok).spec).toMatchObject({ id: 'i-0123456789', cpuMillis: 500, port: 3301 });
    for (const bad of [{ id: '../x' }, { name: 'UP' }, { image: 'Bad Image' }, { port: 0 }, { diskPath: 'rel/ative' }, { adminPassword: '' }, { serverId: 0 }, { resources: null }]) {
      expect(code(() => checkAgentCreate({ ...ok, ...bad })), JSON.stringify(bad)).toBe(status.INVALID_ARGUMENT);
    }
  });

  it('checks a node registration', () => {
    const n = { name: 'n1', agentAddress: '127.0.0.1:7401', host: '127.0.0.1', portMin: 3301, portMax: 3399, disks: [{}] };
    expect(checkNodeInfo(n)).toBe(n);
    for (const bad of [{ name: '' }, { host: '' }, { portMin: 4000 }, { disks: [] }]) expect(code(() => checkNodeInfo({ ...n, ...bad }))).toBe(status.INVALID_ARGUMENT);
    expect(code(() => checkNodeInfo(undefined))).toBe(status.INVALID_ARGUMENT);
  });
});

describe('checkGroupConfig (what an agent writes into a group member my.cnf)', () => {
  const g = { groupName: '3f6c0c8e-55b1-4c2e-9d1a-6f1e2b7a9c01', localAddress: '127.0.0.2:4301', seeds: ['127.0.0.2:4301', 'db-3.example:4302'], allowlist: ['127.0.0.2', '127.0.0.1'], memberWeight: 50, consistency: 'BEFORE_ON_PRIMARY_FAILOVER', autorejoinTries: 3 };
  const bad = (x: object, re: RegExp) => expect(() => checkGroupConfig({ ...g, ...x })).toThrow(expect.objectContaining({ code: status.INVALID_ARGUMENT, message: expect.stringMatching(re) }));

  it('accepts a well-formed group', () => expect(checkGroupConfig(g)).toEqual(g));
  it('refuses anything that could change what mysqld reads', () => {
    bad({ groupName: 'not-a-uuid' }, /not a lower-case UUID/);
    bad({ localAddress: '127.0.0.2:4301\nskip-grant-tables' }, /not host:port/);
    bad({ seeds: ['127.0.0.2:4301,evil:1'] }, /not host:port/);
    bad({ allowlist: ['0.0.0.0/0'] }, /not a host name or address/);
    bad({ allowlist: [] }, /1 to 9 hosts/);
    bad({ memberWeight: 101 }, /between 0 and 100/);
    bad({ consistency: 'x' }, /not one of/);
    bad({ autorejoinTries: -1 }, /between 0 and 2016/);
  });
});
