import type { Flavor } from './dialect';
import { count, describe, isEmpty, parseGtidSet, subtract } from './gtid';

// What a data directory holds that a surviving server lacks: asked before berth throws a copy
// away (a failed seed, an abandoned migration target, a retired source, a fenced old primary),
// so that nothing that may have acknowledged a write is deleted unseen.
//
// MySQL: executed sets are keyed by origin (server_uuid), so a set difference is exact.
//
// MariaDB: a position names 1..seq of a domain whatever server wrote it, so a copy that took
// writes of its own (0-7-101..105) while the primary went on (0-1-101..200) looks contained in
// the primary's position (gtid.ts). The origin state (gtid_binlog_state, the last sequence
// number per domain and server id, plus gtid_slave_pos, where the copy started) tells them
// apart. Under gtid_strict_mode a server that diverged cannot apply the survivor's
// transactions any more, so its history is a shared prefix followed by transactions the
// survivor never saw: per domain, the highest sequence number the survivor has seen of any of
// the copy's origins ends the shared part, and every entry beyond it that the survivor has not
// seen is errant.

export interface Unseen {
  // '' when none. MySQL: a GTID set; MariaDB: the errant origins' last GTIDs.
  gtids: string;
  // How many transactions (MariaDB: per domain, from the end of the shared part).
  count: number;
}

export function unseenTransactions(flavor: Flavor, mine: string, survivor: string): Unseen {
  if (flavor === 'mysql') {
    const s = subtract(parseGtidSet('mysql', mine), parseGtidSet('mysql', survivor));
    return isEmpty(s) ? { gtids: '', count: 0 } : { gtids: describe(s), count: count(s) };
  }
  const theirs = origins(survivor);
  const byDomain = new Map<number, Entry[]>();
  for (const e of origins(mine).values()) byDomain.set(e.domain, [...(byDomain.get(e.domain) ?? []), e]);
  const errant: Entry[] = [];
  let n = 0;
  for (const entries of byDomain.values()) {
    const seenUpTo = (e: Entry) => Math.min(e.seq, theirs.get(key(e))?.seq ?? 0);
    const seen = (e: Entry) => seenUpTo(e) === e.seq;
    const shared = Math.max(0, ...entries.map(seenUpTo));
    const beyond = entries.filter((e) => e.seq > shared && !seen(e));
    if (beyond.length === 0) continue;
    errant.push(...beyond);
    n += Math.max(...beyond.map((e) => e.seq)) - shared;
  }
  errant.sort((a, b) => a.domain - b.domain || a.server - b.server);
  return { gtids: errant.map((e) => `${e.domain}-${e.server}-${e.seq}`).join(','), count: n };
}

interface Entry {
  domain: number;
  server: number;
  seq: number;
}

const key = (e: Pick<Entry, 'domain' | 'server'>) => `${e.domain}-${e.server}`;

// Several lists joined by commas; the highest sequence number per (domain, server id) wins.
function origins(text: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  for (const item of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)-(\d+)-(\d+)$/.exec(item);
    if (!m) throw new Error(`"${item.slice(0, 80)}" is not a MariaDB GTID (domain-server-seq)`);
    const e = { domain: Number(m[1]), server: Number(m[2]), seq: Number(m[3]) };
    const cur = out.get(key(e));
    if (!cur || e.seq > cur.seq) out.set(key(e), e);
  }
  return out;
}
