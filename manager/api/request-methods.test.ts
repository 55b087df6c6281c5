import { describe, expect, it } from 'vitest';
import { TokensTable } from '../store/tokens';
import { Store } from '../store/index';
import { DEFAULT_SCHEDULER_CONFIG } from '../scheduler/types';
import { portalRequestMethods } from './request-methods';

function setup() {
  const store = Store.open(':memory:');
  const tokens = store.tokens;
  const methods = portalRequestMethods({ store, tokens, snapshot: { get: () => undefined }, scheduler: DEFAULT_SCHEDULER_CONFIG, agents: { for: () => { throw new Error('no agents here'); } } });
  return { store, tokens, methods };
}

describe('what a retried mutating RPC answers', () => {
  it('CreateToken: a retry gets a new secret for the same token (only hashes are kept); after a revoke it is refused', () => {
    const { store, tokens, methods } = setup();
    const first = { name: 'ci', role: 'viewer', token: tokens.create('ci', 'viewer') };
    const kept = methods.CreateToken!.remember(first);
    expect(kept.result).not.toContain(first.token);
    store.requests.insert({ caller: 'cert:alice', id: 't-1', method: 'CreateToken', fingerprint: 'f', ...kept });
    const again = methods.CreateToken!.replay(store.requests.get('cert:alice', 't-1')!) as typeof first;
    expect(again).toMatchObject({ name: 'ci', role: 'viewer' });
    expect(tokens.verify(again.token)).toMatchObject({ name: 'ci', role: 'viewer' });
    expect(tokens.verify(first.token)).toBeUndefined();
    // A third time still works: the row follows the token's current hash.
    const third = methods.CreateToken!.replay(store.requests.get('cert:alice', 't-1')!) as typeof first;
    expect(tokens.verify(third.token)?.name).toBe('ci');
    tokens.revoke('ci');
    tokens.create('ci', 'admin');
    expect(() => methods.CreateToken!.replay(store.requests.get('cert:alice', 't-1')!)).toThrow('request_id t-1: token ci was revoked or replaced since it was created');
    expect(tokens.list()).toMatchObject([{ name: 'ci', role: 'admin' }]);
  });

  it('answers without an operation are kept word for word; an operation past retention is FAILED_PRECONDITION', () => {
    const { store, methods } = setup();
    const answer = { name: 'n1', forgottenInstances: ['a', 'b'] };
    store.requests.insert({ caller: '', id: 'x', method: 'RemoveNode', fingerprint: 'f', ...methods.RemoveNode!.remember(answer) });
    expect(methods.RemoveNode!.replay(store.requests.get('', 'x')!)).toEqual(answer);
    store.requests.insert({ caller: '', id: 'y', method: 'Switchover', fingerprint: 'f', operationId: 'op-gone' });
    expect(() => methods.Switchover!.replay(store.requests.get('', 'y')!)).toThrow('request_id y: its operation op-gone is past retention');
  });
});
