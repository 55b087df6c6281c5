import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log';
import { EPOCH_KEY, EpochFence, epochOf, judgeEpoch } from './epoch';

const log = createLogger('test', 'silent');
const md = (epoch?: string) => {
  const m = new grpc.Metadata();
  if (epoch !== undefined) m.set(EPOCH_KEY, epoch);
  return m;
};

describe('judgeEpoch', () => {
  it('takes an equal or higher epoch, raising on a higher one', () => {
    expect(judgeEpoch(3, 3, 'X')).toEqual({ ok: true, raise: false });
    expect(judgeEpoch(3, 4, 'X')).toEqual({ ok: true, raise: true });
  });
  it('refuses a lower epoch, naming both', () => {
    const v = judgeEpoch(4, 3, 'RemoveInstance');
    expect(v.ok).toBe(false);
    expect(!v.ok && v.why).toMatch(/RemoveInstance refused: leader epoch 3 is older than epoch 4/);
  });
  it('takes a call without an epoch only while none was ever seen', () => {
    expect(judgeEpoch(0, undefined, 'X')).toEqual({ ok: true, raise: false });
    expect(judgeEpoch(1, undefined, 'X').ok).toBe(false);
  });
});

describe('epochOf', () => {
  it('reads a positive whole number, nothing else', () => {
    expect(epochOf(md('7'))).toBe(7);
    expect(epochOf(md('0'))).toBeUndefined();
    expect(epochOf(md('-2'))).toBeUndefined();
    expect(epochOf(md('x'))).toBeUndefined();
    expect(epochOf(md())).toBeUndefined();
  });
});

describe('EpochFence', () => {
  it('remembers the highest epoch across a restart and refuses lower ones after it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-epoch-'));
    const file = EpochFence.fileFor(dir);
    const f = new EpochFence(file, log);
    f.load();
    f.check(md(), 'ListInstances');
    f.check(md('2'), 'CreateInstance');
    expect(fs.readFileSync(file, 'utf8').trim()).toBe('2');
    const again = new EpochFence(file, log);
    again.load();
    expect(again.highest).toBe(2);
    expect(() => again.check(md('1'), 'RemoveInstance')).toThrow(/epoch 1 is older than epoch 2/);
    expect(() => again.check(md(), 'RemoveInstance')).toThrow(/no leader epoch/);
    try {
      again.check(md('1'), 'RemoveInstance');
    } catch (err) {
      expect((err as { code: number }).code).toBe(grpc.status.FAILED_PRECONDITION);
    }
  });
});
