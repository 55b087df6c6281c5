import type { Flavor } from '../../src/mysql/dialect';
import { lagTransactions, replicationBroken } from '../movement/index';
import type { ClusterRole } from '../store/instances';
import type { MemberHealth } from './types';

// What a member's agent said about it just now (AgentReplicaStatus), or why it said nothing.
export interface MemberStatus {
  configured: boolean;
  ioRunning: boolean;
  ioConnecting: boolean;
  sqlRunning: boolean;
  // -1: unknown.
  secondsBehind: number;
  lastIoError: string;
  lastSqlError: string;
  receivedGtids: string;
  executedGtids: string;
  sourceHost: string;
  sourcePort: number;
  readOnly: boolean;
}

export interface MemberFacts {
  role: ClusterRole;
  fenced: boolean;
  // The instance's state in the store ('running', 'creating', …; 'unknown' when its node is down).
  state: string;
  status?: MemberStatus;
  // Where the primary serves, and what it has executed (its status, when read).
  primary?: { host: string; port: number; executedGtids: string };
}

export const LAG = { maxSeconds: 10, maxTransactions: 1000 };

// A member's health, from the facts only. Pure: GetCluster gathers, this decides.
export function memberHealth(flavor: Flavor, m: MemberFacts): { health: MemberHealth; lagTransactions: number; problem: string } {
  const none = (health: MemberHealth, problem = '') => ({ health, lagTransactions: 0, problem });
  if (m.fenced) return none('fenced', 'fenced: never made writable again until rebuilt');
  if (m.state === 'pending' || m.state === 'creating') return none('creating');
  if (m.state !== 'running') return none('down', `the instance is ${m.state}`);
  if (!m.status) return none('unreachable', 'its agent did not answer');
  const s = m.status;
  if (m.role === 'primary') return s.readOnly ? none('broken', 'the primary is read-only') : none('ok');
  if (!s.configured) return none('broken', 'replication is not configured');
  const view = { ...s, secondsBehind: s.secondsBehind < 0 ? null : s.secondsBehind };
  const broken = replicationBroken(view);
  if (broken) return none('broken', broken);
  if (m.primary && (s.sourceHost !== m.primary.host || s.sourcePort !== m.primary.port)) {
    return none('broken', `replicates from ${s.sourceHost}:${s.sourcePort}, not the primary ${m.primary.host}:${m.primary.port}`);
  }
  const lag = m.primary?.executedGtids ? lagTransactions(flavor, m.primary.executedGtids, s.executedGtids) : 0;
  if (!s.readOnly) return { health: 'broken', lagTransactions: lag, problem: 'a replica is writable' };
  if (lag > LAG.maxTransactions || s.secondsBehind < 0 || s.secondsBehind > LAG.maxSeconds) {
    return { health: 'lagging', lagTransactions: lag, problem: `${lag} transactions, ${s.secondsBehind < 0 ? '?' : s.secondsBehind} s behind` };
  }
  return { health: 'ok', lagTransactions: lag, problem: '' };
}
