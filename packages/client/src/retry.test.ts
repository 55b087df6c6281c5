import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { backoff, DEFAULT_RETRY, withRetry } from './retry';
import { pages } from './pages';

const fail = (code: grpc.status) => Object.assign(new Error(grpc.status[code]), { code, details: grpc.status[code], metadata: new grpc.Metadata() });
const noSleep = async () => {};

describe('withRetry', () => {
  it('asks a change again with the same request id after a lost answer', async () => {
    const seen: (string | undefined)[] = [];
    const codes = [grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED];
    const res = await withRetry(async (r: { name: string; requestId?: string }) => {
      seen.push(r.requestId);
      const c = codes.shift();
      if (c !== undefined) throw fail(c);
      return 'done';
    }, { name: 'x' }, { mutating: true, policy: DEFAULT_RETRY, sleep: noSleep });
    expect(res).toBe('done');
    expect(seen).toHaveLength(3);
    expect(seen[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(seen).size).toBe(1);
  });

  it('keeps a caller-given request id, adds none to a read, and throws a refusal at once', async () => {
    const seen: object[] = [];
    await withRetry(async (r) => void seen.push(r), { requestId: 'mine' }, { mutating: true, policy: DEFAULT_RETRY, sleep: noSleep });
    await withRetry(async (r) => void seen.push(r), { name: 'x' }, { mutating: false, policy: DEFAULT_RETRY, sleep: noSleep });
    expect(seen).toEqual([{ requestId: 'mine' }, { name: 'x' }]);
    let calls = 0;
    const refused = withRetry(async () => {
      calls++;
      throw fail(grpc.status.FAILED_PRECONDITION);
    }, {}, { mutating: true, policy: DEFAULT_RETRY, sleep: noSleep });
    await expect(refused).rejects.toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
    expect(calls).toBe(1);
  });

  it('gives up after the policy attempts, with the last error', async () => {
    let calls = 0;
    const p = withRetry(async () => {
      calls++;
      throw fail(grpc.status.UNAVAILABLE);
    }, {}, { mutating: false, policy: { attempts: 3, backoffMs: 1, maxBackoffMs: 1 }, sleep: noSleep });
    await expect(p).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    expect(calls).toBe(3);
  });

  it('backs off with full jitter under a cap', () => {
    const p = { attempts: 10, backoffMs: 100, maxBackoffMs: 1000 };
    expect(backoff(p, 1, () => 0.999)).toBe(99);
    expect(backoff(p, 3, () => 0.999)).toBe(399);
    expect(backoff(p, 9, () => 0.999)).toBe(999);
    expect(backoff(p, 9, () => 0)).toBe(0);
  });
});

describe('pages', () => {
  it('follows next_page_token to the last page', async () => {
    const data = ['a', 'b', 'c', 'd', 'e'];
    const asked: string[] = [];
    const fetch = async (r: object) => {
      const { pageToken } = r as { pageToken: string };
      asked.push(pageToken);
      const from = pageToken ? Number(pageToken) : 0;
      return { items: data.slice(from, from + 2), nextPageToken: from + 2 < data.length ? String(from + 2) : '' };
    };
    const out: string[] = [];
    for await (const x of pages(fetch, { pageSize: 2 }, (p) => (p as unknown as { items: string[] }).items)) out.push(x);
    expect(out).toEqual(data);
    expect(asked).toEqual(['', '2', '4']);
  });
});
