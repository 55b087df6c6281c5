// A reader of the binary log file format, just enough for continuous archiving: where each
// event starts and ends, its timestamp, and the GTIDs the file holds. The archiver cuts the
// growing tail at transaction boundaries with it, and records which GTIDs each sealed piece
// covers (docs/backup.md, "Continuous binlog archiving"). Both flavors write the same framing:
//
//   file:   fe 62 69 6e ("\xfebin") | events
//   event:  timestamp (4) | type (1) | server_id (4) | event_size (4) | log_pos (4) | flags (2) | body
//
// (all little-endian; event_size counts the 19-byte header, the body and the checksum).
export const MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);
const HEADER = 19;

export const EVENT = {
  query: 2,
  stop: 3,
  rotate: 4,
  formatDescription: 15,
  xid: 16,
  mysqlGtid: 33,
  mysqlAnonymousGtid: 34,
  mysqlPreviousGtids: 35,
  mysqlGtidTagged: 42,
  mariadbGtid: 162,
  mariadbGtidList: 163,
} as const;

export interface BinlogEvent {
  offset: number;
  end: number;
  type: number;
  timestamp: number;
  serverId: number;
  body: Buffer;
}

// Every complete event from `from` (an event boundary); a cut-off last event is left out.
export function readEvents(buf: Buffer, from = MAGIC.length): BinlogEvent[] {
  const out: BinlogEvent[] = [];
  let at = from;
  while (at + HEADER <= buf.length) {
    const size = buf.readUInt32LE(at + 9);
    if (size < HEADER || at + size > buf.length) break;
    out.push({ offset: at, end: at + size, type: buf[at + 4]!, timestamp: buf.readUInt32LE(at), serverId: buf.readUInt32LE(at + 5), body: buf.subarray(at + HEADER, at + size) });
    at += size;
  }
  return out;
}

export function isBinlog(buf: Buffer): boolean {
  return buf.length >= MAGIC.length && buf.subarray(0, MAGIC.length).equals(MAGIC);
}

const hex = (b: Buffer) => b.toString('hex');
const uuidOf = (b: Buffer) => `${hex(b.subarray(0, 4))}-${hex(b.subarray(4, 6))}-${hex(b.subarray(6, 8))}-${hex(b.subarray(8, 10))}-${hex(b.subarray(10, 16))}`;
const u64 = (b: Buffer, at: number) => Number(b.readBigUInt64LE(at));

// MySQL Previous_gtids body: n_sids (8) | per sid: uuid (16) | n_intervals (8) | [start, end) (8+8)…
// The tagged encoding (8.3+, only written when a tag is in the set) is not read: undefined.
export function mysqlPreviousGtids(body: Buffer): string | undefined {
  if (body.length < 8) return undefined;
  const n = body.readBigUInt64LE(0);
  if (n > 100_000n) return undefined;
  const parts: string[] = [];
  let at = 8;
  for (let i = 0; i < Number(n); i++) {
    if (at + 24 > body.length) return undefined;
    const uuid = uuidOf(body.subarray(at, at + 16));
    const k = u64(body, at + 16);
    at += 24;
    const ivs: string[] = [];
    for (let j = 0; j < k; j++) {
      if (at + 16 > body.length) return undefined;
      const s = u64(body, at);
      const e = u64(body, at + 8) - 1;
      ivs.push(s === e ? `${s}` : `${s}-${e}`);
      at += 16;
    }
    if (ivs.length) parts.push(`${uuid}:${ivs.join(':')}`);
  }
  return parts.join(',');
}

// MySQL Gtid body: flags (1) | uuid (16) | gno (8).
export function mysqlGtid(body: Buffer): string | undefined {
  if (body.length < 25) return undefined;
  return `${uuidOf(body.subarray(1, 17))}:${u64(body, 17)}`;
}

// MariaDB GTID body: seq_no (8) | domain_id (4) | flags (1); the server id is the header's.
export function mariadbGtid(e: BinlogEvent): { domain: number; server: number; seq: number; standalone: boolean } | undefined {
  if (e.body.length < 13) return undefined;
  return { seq: u64(e.body, 0), domain: e.body.readUInt32LE(8), server: e.serverId, standalone: (e.body[12]! & 1) === 1 };
}

// MariaDB Gtid_list body: count (4, low 28 bits) | per GTID: domain (4) | server (4) | seq (8).
export function mariadbGtidList(body: Buffer): string | undefined {
  if (body.length < 4) return undefined;
  const n = body.readUInt32LE(0) & 0x0fffffff;
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const at = 4 + i * 16;
    if (at + 16 > body.length) return undefined;
    out.push(`${body.readUInt32LE(at)}-${body.readUInt32LE(at + 4)}-${u64(body, at + 8)}`);
  }
  return out.join(',');
}

// A transaction ends with an XID event, or with a Query event that is not its BEGIN (COMMIT, or
// a DDL statement that is a transaction of its own). The query text sits after a variable header:
// thread id (4) | exec time (4) | db length (1) | error (2) | status vars length (2) | status vars | db | 0 | text.
export function endsTransaction(e: BinlogEvent): boolean {
  if (e.type === EVENT.xid) return true;
  if (e.type !== EVENT.query || e.body.length < 13) return false;
  const dbLen = e.body[8]!;
  const statusLen = e.body.readUInt16LE(11);
  const textAt = 13 + statusLen + dbLen + 1;
  const text = e.body.subarray(textAt, Math.min(e.body.length, textAt + 16)).toString('latin1').trim().toUpperCase();
  return !text.startsWith('BEGIN');
}

export type BinlogFlavor = 'mysql' | 'mariadb';

// What a stretch of a binlog file holds, from `from` (an event boundary after the file's header)
// to `cut`: the end of its last complete transaction. `header` is the file's leading events (up
// to its first transaction), prepended to each sealed piece so every piece is a binlog file
// mysqlbinlog reads on its own. `before` is the GTID state the file declares at its start
// (MySQL Previous_gtids, MariaDB Gtid_list).
export interface Stretch {
  headerEnd: number;
  cut: number;
  gtids: string[];
  firstAt: number;
  lastAt: number;
  before: string;
}

const isGtid = (t: number) => t === EVENT.mysqlGtid || t === EVENT.mysqlAnonymousGtid || t === EVENT.mysqlGtidTagged || t === EVENT.mariadbGtid;

export function scanStretch(buf: Buffer, flavor: BinlogFlavor, from?: number): Stretch | undefined {
  if (!isBinlog(buf)) return undefined;
  const events = readEvents(buf);
  const first = events.findIndex((e) => isGtid(e.type));
  if (first < 0) return undefined;
  const headerEnd = events[first]!.offset;
  let before = '';
  for (const e of events.slice(0, first)) {
    if (flavor === 'mysql' && e.type === EVENT.mysqlPreviousGtids) before = mysqlPreviousGtids(e.body) ?? before;
    if (flavor === 'mariadb' && e.type === EVENT.mariadbGtidList) before = mariadbGtidList(e.body) ?? before;
  }
  const start = Math.max(from ?? headerEnd, headerEnd);
  const out: Stretch = { headerEnd, cut: start, gtids: [], firstAt: 0, lastAt: 0, before };
  let open: { gtid: string; at: number } | undefined;
  for (const e of events) {
    if (e.offset < start) continue;
    if (isGtid(e.type)) {
      const g = gtidText(e, flavor);
      // MariaDB writes no BEGIN (the GTID event opens the transaction); a DDL's Query ends it.
      open = g ? { gtid: g, at: e.timestamp } : undefined;
      continue;
    }
    if (open && endsTransaction(e)) {
      out.gtids.push(open.gtid);
      out.cut = e.end;
      if (!out.firstAt) out.firstAt = open.at;
      out.lastAt = Math.max(out.lastAt, e.timestamp, open.at);
      open = undefined;
    }
  }
  return out;
}

function gtidText(e: BinlogEvent, flavor: BinlogFlavor): string | undefined {
  if (flavor === 'mysql') return e.type === EVENT.mysqlGtid ? mysqlGtid(e.body) : undefined;
  const m = mariadbGtid(e);
  return m ? `${m.domain}-${m.server}-${m.seq}` : undefined;
}

// Where the transaction of `gtid` ends in a binlog file (the offset just past its commit), or
// undefined when the file does not hold it. A restore to a GTID cuts the file there, so the
// flavor's binlog client replays everything up to and including that transaction and nothing
// after it, without either client's own stop options (MySQL and MariaDB read positions and GTID
// bounds differently; a file that simply ends is read the same way by both).
export function transactionEnd(buf: Buffer, flavor: BinlogFlavor, gtid: string): number | undefined {
  if (!isBinlog(buf)) return undefined;
  let open = false;
  for (const e of readEvents(buf)) {
    if (isGtid(e.type)) {
      open = gtidText(e, flavor) === gtid;
      continue;
    }
    if (open && endsTransaction(e)) return e.end;
  }
  return undefined;
}
