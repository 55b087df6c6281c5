import { describe, expect, it } from 'vitest';
import { applyLimits, DEFAULT_POLICY, diskPressure, growthRate, nextMemoryStep, propose, updateHighSince, type InstanceView, type Limits, type Proposal } from './policy';

const M = 1024 ** 2;
const G = 1024 ** 3;
const cfg = { ...DEFAULT_POLICY, mode: 'on' as const };
const now = 10_000_000;

const inst = (o: Partial<InstanceView> = {}): InstanceView => ({
  id: 'i-a',
  name: 'a',
  node: 'n1',
  diskPath: '/d1',
  state: 'running',
  cpuMillis: 500,
  memoryBytes: 1 * G,
  diskBytes: 1 * G,
  usedDiskBytes: 100 * M,
  usedMemoryBytes: 300 * M,
  measuredAtMs: now - 1000,
  ...o,
});

const limits = (o: Partial<Limits> = {}): Limits => ({ now, lastActionAt: new Map(), busy: new Set(), migratingPerNode: new Map(), migratingFleet: 0, wouldMigrate: () => false, ...o });

describe('expansion policy', () => {
  it('grows a disk reservation by half once the data passes 80% of it (rounded to 64M)', () => {
    expect(propose([inst({ usedDiskBytes: 800 * M })], new Map(), now, cfg)).toEqual([]);
    const [p] = propose([inst({ usedDiskBytes: 850 * M })], new Map(), now, cfg);
    expect(p).toMatchObject({ trigger: 'disk', mode: 'auto', change: { diskBytes: 1536 * M } });
    expect(p!.reason).toMatch(/83% .*\(over 80%\)/);
    const [q] = propose([inst({ diskBytes: 1000 * M, usedDiskBytes: 900 * M })], new Map(), now, { ...cfg, diskGrowBy: 1 });
    expect(q!.change.diskBytes).toBe(2048 * M);
  });

  it('moves memory to the next step only when it stayed above the mark long enough', () => {
    const hot = inst({ usedMemoryBytes: 0.95 * G });
    expect(propose([hot], new Map([['i-a', now - 60_000]]), now, cfg)).toEqual([]);
    const [p] = propose([hot], new Map([['i-a', now - cfg.memorySustainMs]]), now, cfg);
    expect(p).toMatchObject({ trigger: 'memory', change: { memoryBytes: 2 * G } });
    // Never seen high before this round: the clock starts now.
    expect(updateHighSince(new Map(), [hot, inst({ id: 'i-b' })], now, cfg)).toEqual(new Map([['i-a', now]]));
    expect(updateHighSince(new Map([['i-a', 5]]), [hot], now, cfg).get('i-a')).toBe(5);
  });

  it('memory steps follow the list, then double, and stop at the maximum', () => {
    expect(nextMemoryStep(512 * M, cfg)).toBe(1 * G);
    expect(nextMemoryStep(768 * M, cfg)).toBe(1 * G);
    expect(nextMemoryStep(64 * G, cfg)).toBe(128 * G);
    expect(nextMemoryStep(512 * G, cfg)).toBeUndefined();
  });

  it('skips instances not running, never measured or measured too long ago; disk before memory', () => {
    const full = { usedDiskBytes: 900 * M, usedMemoryBytes: 0.99 * G };
    expect(propose([inst({ ...full, state: 'stopped' }), inst({ ...full, measuredAtMs: 0 }), inst({ ...full, measuredAtMs: now - cfg.staleMs - 1 })], new Map(), now, cfg)).toEqual([]);
    const [p] = propose([inst(full)], new Map([['i-a', 0]]), now, cfg);
    expect(p!.trigger).toBe('disk');
  });

  it('cooldown per instance, busy instances, and caps on migrations per node and fleet', () => {
    const p = (id: string, node = 'n1', mode: Proposal['mode'] = 'auto'): Proposal => ({ instanceId: id, name: id, node, trigger: 'disk', mode, change: {}, reason: '' });
    const v = applyLimits([p('a'), p('b'), p('c'), p('d', 'n2', 'migrate'), p('e', 'n3', 'migrate'), p('f', 'n4', 'migrate')], limits({
      lastActionAt: new Map([['a', now - 60_000]]),
      busy: new Set(['b']),
      wouldMigrate: (x) => x.instanceId === 'c',
    }), cfg);
    expect(v.map((x) => (x.act ? (x.migrate ? 'migrate' : 'in-place') : x.skipped.split(':')[0]!.split(' ')[0]))).toEqual(['cooldown', 'an', 'migrate', 'migrate', '2', '2']);
    // In-place resizes are not capped; a node already migrating takes no more.
    const w = applyLimits([p('x'), p('y', 'n1', 'migrate')], limits({ migratingPerNode: new Map([['n1', 1]]), migratingFleet: 1 }), cfg);
    expect(w[0]).toMatchObject({ act: true, migrate: false });
    expect(w[1]).toMatchObject({ act: false });
    expect((w[1] as { skipped: string }).skipped).toMatch(/off n1 \(cap 1\)/);
  });

  it('disk pressure moves the fastest-growing instances off a disk until enough would be free', () => {
    const disks = [
      { node: 'n1', path: '/d1', totalBytes: 10 * G, freeBytes: 0.5 * G },
      { node: 'n2', path: '/d1', totalBytes: 10 * G, freeBytes: 5 * G },
    ];
    const instances = [inst({ id: 'slow', usedDiskBytes: 3 * G }), inst({ id: 'fast', usedDiskBytes: 0.3 * G }), inst({ id: 'mid', usedDiskBytes: 1 * G }), inst({ id: 'other', node: 'n2' })];
    const growth = new Map([['slow', 10], ['fast', 5000], ['mid', 100]]);
    const out = diskPressure(disks, instances, growth, cfg);
    expect(out.map((p) => p.instanceId)).toEqual(['fast', 'mid']);
    expect(out[0]).toMatchObject({ mode: 'migrate', trigger: 'disk-pressure' });
    expect(out[0]!.reason).toMatch(/under 10%/);
  });

  it('growth rate from the oldest to the newest sample, never negative', () => {
    expect(growthRate([])).toBe(0);
    expect(growthRate([{ at: 0, bytes: 0 }, { at: 500, bytes: 50 }, { at: 2000, bytes: 200 }])).toBe(100);
    expect(growthRate([{ at: 0, bytes: 500 }, { at: 1000, bytes: 100 }])).toBe(0);
  });
});
