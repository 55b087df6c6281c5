import type { Flavor } from './dialect';

// GTID sets of both flavors in one model, so replication decisions (is the replica caught up,
// which replica has every other's transactions, what is errant) are written once.
//
// MySQL: `uuid:1-5:7-9,uuid2:1-3`, and since 8.4 tagged GTIDs `uuid:1-5:tag:1-3` (a tag applies
// to the intervals after it). Each source (uuid, or uuid:tag) owns a list of intervals.
//
// MariaDB: a position `domain-server-seq,...`, one entry per replication domain. With
// gtid_strict_mode (which berth always sets) sequence numbers grow monotonically within a domain,
// so a position names the transactions 1..seq of that domain; the server id is kept only to
// print the position back. gtid_binlog_state lists a domain once per server id: the highest
// sequence number wins.

export type Interval = readonly [start: number, end: number];

export interface GtidSet {
  readonly flavor: Flavor;
  // MySQL: "uuid" or "uuid:tag" (lower case). MariaDB: the domain id in decimal.
  readonly sources: ReadonlyMap<string, readonly Interval[]>;
  // MariaDB only: the server id of the last transaction seen per domain.
  readonly serverIds: ReadonlyMap<string, number>;
}

export type Comparison = 'equal' | 'ahead' | 'behind' | 'diverged';

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/;
const TAG = /^[a-z_][a-z0-9_]{0,31}$/;

export function emptyGtidSet(flavor: Flavor): GtidSet {
  return { flavor, sources: new Map(), serverIds: new Map() };
}

export function parseGtidSet(flavor: Flavor, text: string): GtidSet {
  return flavor === 'mariadb' ? parseMariadb(text) : parseMysql(text);
}

function parseMariadb(text: string): GtidSet {
  const best = new Map<string, { seq: number; server: number }>();
  for (const item of splitItems(text)) {
    const m = /^(\d+)-(\d+)-(\d+)$/.exec(item);
    if (!m) throw new Error(`"${item.slice(0, 80)}" is not a MariaDB GTID (domain-server-seq)`);
    const [domain, server, seq] = [num(m[1]!, item), num(m[2]!, item), num(m[3]!, item)];
    const key = String(domain);
    const cur = best.get(key);
    if (!cur || seq > cur.seq) best.set(key, { seq, server });
  }
  const sources = new Map<string, Interval[]>();
  const serverIds = new Map<string, number>();
  for (const [d, { seq, server }] of best) {
    serverIds.set(d, server);
    if (seq > 0) sources.set(d, [[1, seq]]);
  }
  return { flavor: 'mariadb', sources, serverIds };
}

function parseMysql(text: string): GtidSet {
  const acc = new Map<string, Interval[]>();
  for (const item of splitItems(text)) {
    const parts = item.split(':').map((p) => p.trim().toLowerCase());
    const uuid = parts[0]!;
    if (!UUID.test(uuid)) throw new Error(`"${item.slice(0, 80)}" does not start with a server UUID`);
    const canonical = canonicalUuid(uuid);
    let key = canonical;
    for (const p of parts.slice(1)) {
      if (TAG.test(p)) {
        key = `${canonical}:${p}`;
        continue;
      }
      const m = /^(\d+)(?:-(\d+))?$/.exec(p);
      if (!m) throw new Error(`"${p.slice(0, 40)}" in "${item.slice(0, 80)}" is neither an interval nor a tag`);
      const start = num(m[1]!, item);
      const end = m[2] === undefined ? start : num(m[2], item);
      if (start < 1 || end < start) throw new Error(`interval ${p} in "${item.slice(0, 80)}" is empty or starts below 1`);
      const list = acc.get(key) ?? [];
      list.push([start, end]);
      acc.set(key, list);
    }
  }
  const sources = new Map<string, Interval[]>();
  for (const [k, list] of acc) sources.set(k, normalize(list));
  return { flavor: 'mysql', sources, serverIds: new Map() };
}

// Server output wraps long sets over lines ("uuid:1-5,\nuuid2:1-3").
function splitItems(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function num(s: string, ctx: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new Error(`number ${s.slice(0, 30)} in "${ctx.slice(0, 80)}" is too large`);
  return n;
}

function canonicalUuid(u: string): string {
  const h = u.replaceAll('-', '');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// Sorted, disjoint, and adjacent intervals merged (1-3 and 4-5 are 1-5).
function normalize(list: readonly Interval[]): Interval[] {
  const sorted = [...list].filter(([s, e]) => e >= s).sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [s, e] of sorted) {
    const last = out[out.length - 1];
    if (last && s <= last[1] + 1) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

function subtractIntervals(a: readonly Interval[], b: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  for (const [s0, e] of a) {
    let s = s0;
    for (const [bs, be] of b) {
      if (be < s || bs > e) continue;
      if (bs > s) out.push([s, bs - 1]);
      s = Math.max(s, be + 1);
      if (s > e) break;
    }
    if (s <= e) out.push([s, e]);
  }
  return out;
}

function sameFlavor(a: GtidSet, b: GtidSet): void {
  if (a.flavor !== b.flavor) throw new Error(`cannot combine a ${a.flavor} GTID set with a ${b.flavor} one`);
}

export function union(a: GtidSet, b: GtidSet): GtidSet {
  sameFlavor(a, b);
  const sources = new Map<string, Interval[]>();
  for (const k of new Set([...a.sources.keys(), ...b.sources.keys()])) {
    sources.set(k, normalize([...(a.sources.get(k) ?? []), ...(b.sources.get(k) ?? [])]));
  }
  const serverIds = new Map(a.serverIds);
  for (const [k, id] of b.serverIds) {
    if (!serverIds.has(k) || lastOf(b, k) > lastOf(a, k)) serverIds.set(k, id);
  }
  return { flavor: a.flavor, sources, serverIds };
}

// What a has that b has not: on a replica, `subtract(replica, primary)` is its errant
// transactions; `subtract(primary, replica)` is what it still has to apply.
export function subtract(a: GtidSet, b: GtidSet): GtidSet {
  sameFlavor(a, b);
  const sources = new Map<string, Interval[]>();
  for (const [k, list] of a.sources) {
    const rest = subtractIntervals(list, b.sources.get(k) ?? []);
    if (rest.length > 0) sources.set(k, rest);
  }
  const serverIds = new Map([...a.serverIds].filter(([k]) => sources.has(k)));
  return { flavor: a.flavor, sources, serverIds };
}

// Whether every transaction of b is in a.
export function contains(a: GtidSet, b: GtidSet): boolean {
  return isEmpty(subtract(b, a));
}

export function isEmpty(s: GtidSet): boolean {
  return s.sources.size === 0;
}

export function equals(a: GtidSet, b: GtidSet): boolean {
  return contains(a, b) && contains(b, a);
}

export function compare(a: GtidSet, b: GtidSet): Comparison {
  const aHasAll = contains(a, b);
  const bHasAll = contains(b, a);
  if (aHasAll && bHasAll) return 'equal';
  if (aHasAll) return 'ahead';
  if (bHasAll) return 'behind';
  return 'diverged';
}

// Number of transactions in the set (what lag in transactions means).
export function count(s: GtidSet): number {
  let n = 0;
  for (const list of s.sources.values()) for (const [st, e] of list) n += e - st + 1;
  return n;
}

function lastOf(s: GtidSet, key: string): number {
  const list = s.sources.get(key);
  return list && list.length > 0 ? list[list.length - 1]![1] : 0;
}

// The text each server accepts back (gtid_slave_pos, WAIT_FOR_EXECUTED_GTID_SET). A MariaDB
// position can only say "1..seq" per domain: a set with a hole (a difference of two positions)
// has no such text, and format() refuses it; describe() prints any set.
export function formatGtidSet(s: GtidSet): string {
  if (s.flavor === 'mysql') return formatMysql(s);
  return sortedKeys(s, true)
    .map((d) => {
      const list = s.sources.get(d)!;
      if (list.length !== 1 || list[0]![0] !== 1) throw new Error(`domain ${d} of this MariaDB GTID set has gaps (${describe(s)}): it is not a position`);
      return `${d}-${s.serverIds.get(d) ?? 0}-${list[0]![1]}`;
    })
    .join(',');
}

export function describe(s: GtidSet): string {
  if (s.flavor === 'mysql') return formatMysql(s);
  return sortedKeys(s, true)
    .map((d) => {
      const list = s.sources.get(d)!;
      const prefix = list.length === 1 && list[0]![0] === 1;
      return `${d}-${s.serverIds.get(d) ?? 0}-${prefix ? list[0]![1] : `[${intervals(list).replaceAll(':', ',')}]`}`;
    })
    .join(',');
}

function formatMysql(s: GtidSet): string {
  const byUuid = new Map<string, string[]>();
  for (const k of sortedKeys(s, false)) {
    const [uuid, tag] = k.split(':') as [string, string | undefined];
    const parts = byUuid.get(uuid) ?? [uuid];
    parts.push(tag ? `${tag}:${intervals(s.sources.get(k)!)}` : intervals(s.sources.get(k)!));
    byUuid.set(uuid, parts);
  }
  return [...byUuid.values()].map((p) => p.join(':')).join(',');
}

// Untagged before tagged for one uuid, since "uuid" sorts before "uuid:tag".
function sortedKeys(s: GtidSet, numeric: boolean): string[] {
  const keys = [...s.sources.keys()];
  return numeric ? keys.sort((a, b) => Number(a) - Number(b)) : keys.sort();
}

function intervals(list: readonly Interval[]): string {
  return list.map(([st, e]) => (st === e ? `${st}` : `${st}-${e}`)).join(':');
}

// One transaction, as a restore names its stopping point: MySQL uuid:N (untagged), MariaDB
// domain-server-seq.
const ONE_GTID: Record<string, RegExp> = {
  mysql: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}:[1-9]\d{0,15}$/,
  mariadb: /^\d{1,10}-\d{1,10}-[1-9]\d{0,15}$/,
};

export function isOneGtid(flavor: string, text: string): boolean {
  return !!ONE_GTID[flavor]?.test(text);
}
