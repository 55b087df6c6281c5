import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { NodesTable } from '../store/nodes';
import { AgentPool } from './pool';

describe('AgentPool', () => {
  it('following registrations, reads a node address once and again only after the node registers', () => {
    let address = '127.0.0.9:7401';
    let reads = 0;
    const nodes = { get: (name: string) => (reads++, name === 'a' ? { name, agentAddress: address } : undefined) } as unknown as NodesTable;
    const events = new EventEmitter();
    const pool = new AgentPool(nodes);
    pool.followRegistrations((l) => events.on('e', l));
    const first = pool.for('a');
    expect(pool.for('a')).toBe(first);
    expect(reads).toBe(1);
    events.emit('e', { kind: 'node.cordoned', subject: 'a' });
    pool.for('a');
    expect(reads).toBe(1);
    address = '127.0.0.9:7402';
    events.emit('e', { kind: 'node.registered', subject: 'a' });
    expect(pool.for('a')).not.toBe(first);
    expect(reads).toBe(2);
    expect(() => pool.for('b')).toThrow(/not registered/);
    pool.close();
  });

  it('without it, reads the address on every call (as before)', () => {
    let reads = 0;
    const nodes = { get: (name: string) => (reads++, { name, agentAddress: '127.0.0.9:7401' }) } as unknown as NodesTable;
    const pool = new AgentPool(nodes);
    pool.for('a');
    pool.for('a');
    expect(reads).toBe(2);
    pool.close();
  });
});
