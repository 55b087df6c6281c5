import { invalidArgument } from '../../src/errors';
import type { Constraint } from './types';

const KEY = '[a-z][a-z0-9_.-]{0,62}';
const VALUE = '[A-Za-z0-9_.-]{1,63}';
const EQ = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`);
const SET = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(\\s*(${VALUE}(?:\\s*,\\s*${VALUE})*)\\s*\\)$`);

// Parses one constraint as a DBA types it: `zone=a`, `rack!=r3`, `disk=ssd`, `zone in (a,b)`,
// `zone notin (a,b)`; a leading `~` makes it soft (preferred). Throws INVALID_ARGUMENT, so a bad
// constraint is refused at the API edge before anything is written.
export function parseConstraint(raw: string): Constraint {
  const text = raw.trim();
  const soft = text.startsWith('~');
  const body = soft ? text.slice(1).trim() : text;
  let m = EQ.exec(body);
  if (m) return { key: m[1]!, op: m[2] === '!=' ? 'notin' : 'in', values: [m[3]!], soft, text: `${soft ? '~' : ''}${m[1]}${m[2] === '!=' ? '!=' : '='}${m[3]}` };
  m = SET.exec(body);
  if (m) {
    const values = m[3]!.split(',').map((v) => v.trim());
    return { key: m[1]!, op: m[2] as 'in' | 'notin', values, soft, text: `${soft ? '~' : ''}${m[1]} ${m[2]} (${values.join(',')})` };
  }
  throw invalidArgument(
    `constraint "${raw.slice(0, 80)}" is not valid: use key=value, key!=value, key in (a,b) or key notin (a,b), with a leading ~ for a preference`,
  );
}

export function parseConstraints(raw: readonly string[]): Constraint[] {
  if (raw.length > 32) throw invalidArgument(`at most 32 constraints (got ${raw.length})`);
  return raw.map(parseConstraint);
}

// Missing labels: an `in` constraint fails (the node is not known to be in zone a), a `notin`
// passes (the node is not known to be on rack r3), as Kubernetes' node selectors read them.
export function satisfies(labels: Record<string, string>, c: Constraint): boolean {
  const v = labels[c.key];
  const member = v !== undefined && c.values.includes(v);
  return c.op === 'in' ? member : !member;
}

// "rack" or "~rack": keep a cluster's members on distinct values of that label.
export function parseSpreadOver(raw: string): { key: string; soft: boolean } | undefined {
  if (!raw) return undefined;
  const soft = raw.startsWith('~');
  const key = soft ? raw.slice(1) : raw;
  if (!new RegExp(`^${KEY}$`).test(key)) throw invalidArgument(`spread_over "${raw.slice(0, 80)}" is not valid: a label key such as rack or zone, with a leading ~ for a preference`);
  return { key, soft };
}
