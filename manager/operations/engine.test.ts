import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log';
import { Store } from '../store/index';
import type { Subject } from '../store/operations';
import type { Engine, StepDef } from './engine';
import { testEngine, type TestType, type TestTypes } from '../../test/harness/operation-types';

const log = createLogger('test', 'silent');
const never = () => new Promise<never>(() => undefined);
const inst = (name: string): Subject => ({ kind: 'instance', name });

function setup(types: TestType[], store = Store.open(':memory:')) {
  const engine = testEngine(store, log, types, { rollForwardRetries: 2, rollForwardBackoffMs: 1 });
  return { store, engine };
}

const submit = async (engine: Engine<TestTypes>, type: string, subjects: Subject[] = [inst('i1')], params: Record<string, unknown> = {}) =>
  (await engine.submit(type, { params, subjects })).id;

describe('Engine: steps, outputs and undo', () => {
  it('runs steps in order, records each, and gives later steps the outputs of earlier ones', async () => {
    const seen: unknown[] = [];
    const { store, engine } = setup([
      {
        type: 't',
        steps: [
          { name: 'choose', run: async (ctx) => ({ target: `node-for-${ctx.params.size}` }) },
          { name: 'use', run: async (ctx) => void seen.push(ctx.output('choose')) },
        ],
      },
    ]);
    const id = await submit(engine, 't', [inst('i1')], { size: 'big' });
    const op = await engine.wait(id, 5000);
    expect(op).toMatchObject({ state: 'succeeded', nextStep: 2, params: { size: 'big' }, subjects: [inst('i1')] });
    expect(seen).toEqual([{ target: 'node-for-big' }]);
    expect(op!.steps.map((s) => [s.state, s.output])).toEqual([
      ['done', '{"target":"node-for-big"}'],
      ['done', ''],
    ]);
    expect(store.events.recent(5).map((e) => e.kind)).toContain('t.succeeded');
  });

  it('undoes the failed step and the ones before it, in reverse, and says it is clean', async () => {
    const calls: string[] = [];
    const failures: [string, boolean][] = [];
    const { engine } = setup([
      {
        type: 't',
        failed: (_ctx, f) => failures.push([f.error, f.clean]),
        steps: [
          { name: 'a', run: async () => void calls.push('a'), undo: async () => void calls.push('undo a') },
          { name: 'b', run: async () => void calls.push('b') },
          { name: 'c', run: async () => Promise.reject(new Error('boom')), undo: async (ctx) => void calls.push(`undo c after ${ctx.failure}`) },
          { name: 'd', run: async () => void calls.push('d') },
        ],
      },
    ]);
    const op = await engine.wait(await submit(engine, 't'), 5000);
    expect(calls).toEqual(['a', 'b', 'undo c after c: boom', 'undo a']);
    expect(op).toMatchObject({ state: 'failed', error: 'c: boom', undoStep: -1 });
    expect(op!.steps.map((s) => s.state)).toEqual(['undone', 'done', 'failed', 'pending']);
    expect(failures).toEqual([['c: boom', true]]);
  });

  it('after a failed undo, undoes only independent steps and names what is left', async () => {
    const calls: string[] = [];
    const failures: { error: string; clean: boolean; left: string[] }[] = [];
    const { engine } = setup([
      {
        type: 't',
        failed: (_ctx, f) => failures.push(f),
        steps: [
          { name: 'lock', run: async () => undefined, undo: async () => void calls.push('undo lock'), independentUndo: true },
          { name: 'reserve', run: async () => undefined, undo: async () => void calls.push('undo reserve') },
          { name: 'container', run: async () => Promise.reject(new Error('boom')), undo: async () => Promise.reject(new Error('node gone')) },
        ],
      },
    ]);
    const op = await engine.wait(await submit(engine, 't'), 5000);
    expect(calls).toEqual(['undo lock']);
    expect(op!.error).toBe('container: boom; undo container: node gone; left behind: container, reserve');
    expect(failures[0]).toMatchObject({ clean: false, left: ['container', 'reserve'] });
    expect(op!.steps.map((s) => s.state)).toEqual(['undone', 'done', 'undo_failed']);
  });
});

describe('Engine: restarts', () => {
  // A manager killed while step k runs: a new engine on the same store re-runs step k (steps
  // are idempotent), never the ones before it, and later steps still see earlier outputs.
  it.each([0, 1, 2, 3])('resumes with the outputs already decided after a kill during step %i', async (k) => {
    const store = Store.open(':memory:');
    const runs: string[] = [];
    const type = (killAt: number): TestType => ({
      type: 't',
      steps: ['s0', 's1', 's2', 's3'].map(
        (name, i): StepDef => ({
          name,
          run: async (ctx) => {
            runs.push(name);
            if (i === killAt) return never();
            const prev = i > 0 ? ctx.output<{ chain: string }>(`s${i - 1}`)!.chain : 'start';
            return { chain: `${prev}>${name}` };
          },
        }),
      ),
    });
    const first = setup([type(k)], store);
    const id = await submit(first.engine, 't');
    await waitFor(() => store.operations.get(id)!.steps[k]!.state === 'running');
    expect(store.operations.get(id)).toMatchObject({ state: 'running', nextStep: k });

    runs.length = 0;
    const second = setup([type(-1)], store);
    expect(second.engine.resumeAll()).toBe(1);
    const op = await second.engine.wait(id, 5000);
    expect(op!.state).toBe('succeeded');
    expect(runs).toEqual(['s0', 's1', 's2', 's3'].slice(k));
    expect(JSON.parse(op!.steps[3]!.output)).toEqual({ chain: 'start>s0>s1>s2>s3' });
  });

  it('resumes an interrupted rollback at the step it was undoing', async () => {
    const store = Store.open(':memory:');
    const undos: string[] = [];
    const type = (hang: boolean): TestType => ({
      type: 't',
      steps: [
        { name: 'a', run: async () => 'a-out', undo: async (ctx) => void undos.push(`undo a (saw ${ctx.output('a')})`) },
        { name: 'b', run: async () => undefined, undo: async () => (undos.push('undo b'), hang ? never() : undefined) },
        { name: 'c', run: async () => Promise.reject(new Error('boom')), undo: async () => void undos.push('undo c') },
      ],
    });
    const first = setup([type(true)], store);
    const id = await submit(first.engine, 't');
    await waitFor(() => undos.length === 2);
    expect(store.operations.get(id)).toMatchObject({ state: 'rolling_back', undoStep: 1, failure: 'c: boom' });
    expect(store.operations.get(id)!.steps[1]!.state).toBe('undoing');

    const second = setup([type(false)], store);
    expect(second.engine.resumeAll()).toBe(1);
    const op = await second.engine.wait(id, 5000);
    expect(undos).toEqual(['undo c', 'undo b', 'undo b', 'undo a (saw a-out)']);
    expect(op).toMatchObject({ state: 'failed', error: 'c: boom' });
    expect(op!.steps.map((s) => [s.state, s.error])).toEqual([['undone', ''], ['undone', ''], ['failed', 'boom']]);
  });

  it('keeps its copy of a running operation equal to the store, and records a step start with the end of the step before', async () => {
    const store = Store.open(':memory:');
    const seen: [string, boolean][] = [];
    const type = (hang: boolean): TestType => ({
      type: 't',
      steps: [
        { name: 'a', run: async (ctx) => (seen.push(['a', same(ctx.opId)]), 'a-out') },
        { name: 'b', retries: 1, backoffMs: 1, run: async (ctx) => (seen.push(['b', same(ctx.opId)]), ctx.attempt === 1 ? Promise.reject(new Error('flaky')) : 'b-out') },
        { name: 'c', run: async (ctx) => (seen.push(['c', same(ctx.opId)]), hang ? never() : ctx.output('b')) },
      ],
    });
    const first = setup([type(true)], store);
    const same = (id: string) => JSON.stringify(first.engine.get(id)) === JSON.stringify(store.operations.get(id));
    const id = await submit(first.engine, 't');
    await waitFor(() => seen.length === 4);
    expect(seen).toEqual([['a', true], ['b', true], ['b', true], ['c', true]]);
    // Killed during c: its start is durable (written in b's commit), b's output with it.
    const row = store.operations.get(id)!;
    expect(row.steps.map((s) => [s.state, s.attempts, s.output])).toEqual([['done', 1, '"a-out"'], ['done', 2, '"b-out"'], ['running', 1, '']]);
    expect(row).toMatchObject({ state: 'running', nextStep: 2 });

    const second = setup([type(false)], store);
    expect(second.engine.resumeAll()).toBe(1);
    const op = await second.engine.wait(id, 5000);
    // The last step's end and the operation's success are one commit.
    expect(op).toMatchObject({ state: 'succeeded', nextStep: 3 });
    expect(op!.steps.map((s) => [s.state, s.attempts, s.output])).toEqual([['done', 1, '"a-out"'], ['done', 2, '"b-out"'], ['done', 2, '"b-out"']]);
    expect(op!.finishedAt).toBe(op!.steps[2]!.finishedAt);
  });

  it('resumes operations recorded by the first engine (no parameters, one instance)', async () => {
    const seen: string[] = [];
    const { store, engine } = setup([{ type: 't', steps: [{ name: 'a', run: async () => undefined }, { name: 'b', run: async (ctx) => void seen.push(ctx.subjects[0]!.name) }] }]);
    store.operations.insert('op-old', 't', 'i-old', ['a', 'b'], 1);
    engine.resumeAll();
    expect((await engine.wait('op-old', 5000))!.state).toBe('succeeded');
    expect(seen).toEqual(['i-old']);
  });
});

describe('Engine: steps stored by an older version', () => {
  // A migration recorded before a step was inserted: position 2 is 'copy' in the store but
  // 'reserve-port' in this version. Resuming must run neither.
  const older = ['reserve', 'create', 'copy', 'cut-over'];
  const newer = ['reserve', 'create', 'reserve-port', 'copy', 'cut-over'];
  const typeOf = (names: string[], calls: string[]): TestType => ({
    type: 'm',
    steps: names.map((name) => ({ name, run: async () => void calls.push(name), undo: async () => void calls.push(`undo ${name}`) })),
  });

  it('marks an operation stuck, running and undoing nothing, when its stored step names differ', async () => {
    const store = Store.open(':memory:');
    const calls: string[] = [];
    // Recorded by the older version with two steps done (it stopped there).
    store.operations.insert({ id: 'op-m', type: 'm', params: {}, subjects: [inst('i1')], steps: older, firstPending: 2 });
    const { engine } = setup([typeOf(newer, calls)], store);
    expect(engine.resumeAll()).toBe(1);
    await waitFor(() => store.operations.get('op-m')!.state !== 'running');
    const op = store.operations.get('op-m')!;
    expect(op.state).toBe('stuck');
    expect(op.error).toContain('stored steps [reserve, create, copy, cut-over] do not match the steps of m in this version [reserve, create, reserve-port, copy, cut-over]');
    expect(calls).toEqual([]);
    expect(store.events.recent(5).map((e) => e.kind)).toContain('m.stuck');
    // It keeps its subject: nothing else runs on the half-moved instance.
    expect(engine.busy('i1')).toBe(true);
    // A retry checks again rather than running the wrong step.
    engine.retry('op-m');
    await waitFor(() => store.operations.get('op-m')!.state === 'stuck');
    expect(calls).toEqual([]);
  });

  it('fails (nothing to undo) an operation none of whose steps ran', async () => {
    const store = Store.open(':memory:');
    const calls: string[] = [];
    store.operations.insert({ id: 'op-n', type: 'm', params: {}, subjects: [inst('i2')], steps: older });
    const { engine } = setup([typeOf(newer, calls)], store);
    engine.resumeAll();
    const op = await engine.wait('op-n', 5000);
    expect(op).toMatchObject({ state: 'failed' });
    expect(op!.error).toContain('nothing had run; not resumed');
    expect(calls).toEqual([]);
    expect(engine.busy('i2')).toBe(false);
  });

  it('resumes as before when the names match', async () => {
    const store = Store.open(':memory:');
    const calls: string[] = [];
    store.operations.insert({ id: 'op-o', type: 'm', params: {}, subjects: [inst('i3')], steps: newer, firstPending: 2 });
    const { engine } = setup([typeOf(newer, calls)], store);
    engine.resumeAll();
    expect((await engine.wait('op-o', 5000))!.state).toBe('succeeded');
    expect(calls).toEqual(['reserve-port', 'copy', 'cut-over']);
  });
});

describe('Engine: subjects and locks', () => {
  it('never runs two operations on one subject at once and never deadlocks on overlapping sets', async () => {
    const active = new Map<string, string>();
    const violations: string[] = [];
    const order: string[] = [];
    const { engine } = setup([
      {
        type: 't',
        steps: [
          {
            name: 'work',
            run: async (ctx) => {
              for (const s of ctx.subjects) {
                const k = `${s.kind}:${s.name}`;
                if (active.has(k)) violations.push(`${ctx.opId} and ${active.get(k)} on ${k}`);
                active.set(k, ctx.opId);
              }
              order.push(ctx.opId);
              await new Promise((r) => setTimeout(r, 1 + Math.floor(Math.random() * 3)));
              for (const s of ctx.subjects) active.delete(`${s.kind}:${s.name}`);
            },
          },
        ],
      },
    ]);
    const pool: Subject[] = [inst('i1'), inst('i2'), inst('i3'), { kind: 'node', name: 'n1' }, { kind: 'node', name: 'n2' }, { kind: 'cluster', name: 'c1' }];
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const ids: string[] = [];
    for (let n = 0; n < 60; n++) {
      // Listed in random order: the engine sorts them.
      const subjects = pool.filter(() => rand() < 0.4).sort(() => rand() - 0.5);
      ids.push(await submit(engine, 't', subjects.length ? subjects : [pool[n % pool.length]!]));
    }
    const ops = await Promise.all(ids.map((id) => engine.wait(id, 10_000)));
    expect(ops.map((o) => o!.state)).toEqual(ids.map(() => 'succeeded'));
    expect(violations).toEqual([]);
    // First come, first served among operations on one instance.
    const onI1 = ids.filter((_, n) => ops[n]!.subjects.some((s) => s.name === 'i1'));
    expect(order.filter((id) => onI1.includes(id))).toEqual(onI1);
  });

  it('refuses with FAILED_PRECONDITION naming the holder when asked not to wait', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { engine } = setup([{ type: 't', steps: [{ name: 'hold', run: () => gate }] }]);
    const holder = await submit(engine, 't', [inst('i1'), { kind: 'node', name: 'n1' }]);
    await new Promise((r) => setImmediate(r));
    let err: { code?: number; message: string } | undefined;
    try {
      await engine.submit('t', { subjects: [{ kind: 'node', name: 'n1' }], ifBusy: 'refuse' });
    } catch (e) {
      err = e as typeof err;
    }
    expect(err?.code).toBe(status.FAILED_PRECONDITION);
    expect(err?.message).toContain(holder);
    expect(engine.busy('i1')).toBe(true);
    release();
    await engine.wait(holder, 5000);
    expect(engine.busy('i1')).toBe(false);
    expect((await engine.submit('t', { subjects: [{ kind: 'node', name: 'n1' }], ifBusy: 'refuse' })).id).toMatch(/^op-/);
  });
});

describe('Engine: brief holders', () => {
  it('an operation that would refuse queues behind a brief one (a repair) instead, and is still refused by any other', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { engine } = setup([
      { type: 'repair', brief: true, steps: [{ name: 'call', run: () => gate }] },
      { type: 't', steps: [{ name: 'work', run: async () => undefined }] },
    ]);
    const repair = await submit(engine, 'repair', [{ kind: 'cluster', name: 'orders' }]);
    const queued = await engine.submit('t', { subjects: [{ kind: 'cluster', name: 'orders' }], ifBusy: 'refuse' });
    expect(engine.get(queued.id)!.state).toBe('running');
    await expect(engine.submit('t', { subjects: [{ kind: 'cluster', name: 'orders' }], ifBusy: 'refuse' })).rejects.toThrow(queued.id);
    release();
    expect((await engine.wait(repair, 5000))!.state).toBe('succeeded');
    expect((await engine.wait(queued.id, 5000))!.state).toBe('succeeded');
  });
});

describe('Engine: point of no return, retries, timeouts', () => {
  const pnrType = (failC: () => boolean, undos: string[]): TestType => ({
    type: 'failover',
    steps: [
      { name: 'prepare', run: async () => undefined, undo: async () => void undos.push('undo prepare') },
      { name: 'promote', run: async () => ({ promoted: 'r1' }), pointOfNoReturn: true, undo: async () => void undos.push('undo promote') },
      { name: 'repoint', run: async () => (failC() ? Promise.reject(new Error('replica unreachable')) : undefined) },
    ],
  });

  it('rolls forward after the point of no return: retries the failing step, never undoes', async () => {
    let failures = 2;
    const undos: string[] = [];
    const { engine } = setup([pnrType(() => failures-- > 0, undos)]);
    const op = await engine.wait(await submit(engine, 'failover'), 5000);
    expect(op).toMatchObject({ state: 'succeeded', committed: true });
    expect(op!.steps[2]!.attempts).toBe(3);
    expect(undos).toEqual([]);
  });

  it('out of retries past the point of no return: stuck, with an event, holding its subjects until retried', async () => {
    let broken = true;
    const undos: string[] = [];
    const { store, engine } = setup([pnrType(() => broken, undos)]);
    const id = await submit(engine, 'failover', [{ kind: 'cluster', name: 'orders' }]);
    const op = await engine.wait(id, 5000);
    expect(op!.state).toBe('stuck');
    expect(op!.error).toMatch(/^repoint: replica unreachable \(past the point of no return/);
    expect(undos).toEqual([]);
    expect(store.events.recent(5).find((e) => e.kind === 'failover.stuck')?.message).toContain('needs a person');
    await expect(engine.submit('failover', { subjects: [{ kind: 'cluster', name: 'orders' }], ifBusy: 'refuse' })).rejects.toThrow(id);

    broken = false;
    engine.retry(id);
    expect((await engine.wait(id, 5000))!.state).toBe('succeeded');
    expect(engine.holder([{ kind: 'cluster', name: 'orders' }])).toBeUndefined();
  });

  it('retries a step with backoff and records the attempts', async () => {
    let left = 2;
    const at: number[] = [];
    const { engine } = setup([
      { type: 't', steps: [{ name: 'flaky', retries: 2, backoffMs: 20, run: async (ctx) => (at.push(Date.now()), left-- > 0 ? Promise.reject(new Error(`try ${ctx.attempt}`)) : 'ok') }] },
    ]);
    const op = await engine.wait(await submit(engine, 't'), 5000);
    expect(op).toMatchObject({ state: 'succeeded' });
    expect(op!.steps[0]).toMatchObject({ attempts: 3, output: '"ok"' });
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(18);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(38);
  });

  it('fails an attempt that passes its timeout and aborts its signal', async () => {
    let aborted = false;
    const { engine } = setup([
      {
        type: 't',
        steps: [
          {
            name: 'slow',
            timeoutMs: 50,
            run: (ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => ((aborted = true), resolve(undefined)))),
          },
        ],
      },
    ]);
    const op = await engine.wait(await submit(engine, 't'), 5000);
    expect(op).toMatchObject({ state: 'failed', error: 'slow: slow timed out after 0.05 s' });
    expect(aborted).toBe(true);
  });
});

describe('Engine: progress and children', () => {
  it('persists progress and rolls children up into their parent; children share the parent subjects', async () => {
    const G = 1024 ** 3;
    let finishChildren!: () => void;
    const gate = new Promise<void>((r) => (finishChildren = r));
    const childRuns: string[] = [];
    const { store, engine } = setup([
      {
        type: 'migrate',
        steps: [
          {
            name: 'copy',
            run: async (ctx) => {
              childRuns.push(ctx.opId);
              ctx.progress({ phase: 'copying', bytesTotal: G, bytesDone: 0 });
              ctx.progress({ bytesDone: G / 4 });
              await gate;
              ctx.progress({ bytesDone: G, phase: 'copied' });
            },
          },
        ],
      },
      {
        type: 'drain',
        steps: [
          {
            name: 'migrate-all',
            run: async (ctx) => {
              ctx.progress({ phase: 'migrating 2 instances' });
              const ids = await Promise.all(['i1', 'i2'].map((i) => ctx.startChild(i, { type: 'migrate', request: { params: { instanceId: i }, subjects: [inst(i), { kind: 'node', name: 'n1' }] } })));
              // Started again (as after a restart): the same children, not new ones.
              expect(await ctx.startChild('i1', { type: 'migrate', request: { subjects: [inst('i1')] } })).toBe(ids[0]);
              const done = await ctx.waitChildren();
              return { migrated: done.filter((c) => c.state === 'succeeded').length };
            },
          },
        ],
      },
    ]);
    const parent = await submit(engine, 'drain', [{ kind: 'node', name: 'n1' }]);
    await waitFor(() => childRuns.length === 2);
    // Both children run at once inside the drain's node lock.
    await waitFor(() => store.operations.get(parent)!.progress.bytesDone === G / 2);
    const mid = store.operations.get(parent)!;
    expect(mid.progress).toEqual({ bytesDone: G / 2, bytesTotal: 2 * G, phase: 'migrating 2 instances' });
    expect(mid.childIds).toHaveLength(2);
    expect(store.operations.get(mid.childIds[0]!)).toMatchObject({ parentId: parent, progress: { phase: 'copying' } });
    finishChildren();
    const op = await engine.wait(parent, 5000);
    expect(op).toMatchObject({ state: 'succeeded', progress: { bytesDone: 2 * G, bytesTotal: 2 * G } });
    expect(JSON.parse(op!.steps[0]!.output)).toEqual({ migrated: 2 });
  });

  it('writes progress at most about once a second, and the last value always', async () => {
    const { store, engine } = setup([
      {
        type: 't',
        steps: [
          {
            name: 'copy',
            run: async (ctx) => {
              for (let i = 1; i <= 1000; i++) ctx.progress({ bytesDone: i, bytesTotal: 1000 });
            },
          },
        ],
      },
    ]);
    const updates: number[] = [];
    const orig = store.operations.setProgress.bind(store.operations);
    store.operations.setProgress = (id, p) => (updates.push(p.bytesDone), orig(id, p));
    const op = await engine.wait(await submit(engine, 't'), 5000);
    expect(updates.length).toBeLessThanOrEqual(3);
    expect(op!.progress).toMatchObject({ bytesDone: 1000, bytesTotal: 1000 });
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 2));
  }
}
