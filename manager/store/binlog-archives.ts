import type { DB } from './db';
import { nowIso } from './db';

// Continuous binlog archives (docs/backup.md): one per cluster with archiving on, its data key
// (sealed with the repository key, as in a manifest), where its archiver runs, and a gap when
// one was found; and the pieces sealed into the repository, in recording order (seq).
export interface BinlogArchiveRow {
  cluster: string;
  enabled: boolean;
  flavor: string;
  keyId: string;
  dataKey: string;
  node: string;
  source: string;
  gap: string;
  createdAt: string;
  updatedAt: string;
}

export interface BinlogPieceRow {
  seq: number;
  id: string;
  cluster: string;
  sourceInstance: string;
  file: string;
  fromOffset: number;
  toOffset: number;
  gtids: string;
  before: string;
  firstEventAt: number;
  lastEventAt: number;
  storedBytes: number;
  createdAt: string;
}

const ARCHIVE = `cluster, enabled, flavor, key_id AS keyId, data_key AS dataKey, node, source, gap, created_at AS createdAt, updated_at AS updatedAt`;
const PIECE = `seq, id, cluster, source_instance AS sourceInstance, file, from_offset AS fromOffset, to_offset AS toOffset, gtids, before,
  first_event_at AS firstEventAt, last_event_at AS lastEventAt, stored_bytes AS storedBytes, created_at AS createdAt`;

type RawArchive = Omit<BinlogArchiveRow, 'enabled'> & { enabled: number };
const row = (r: RawArchive | undefined): BinlogArchiveRow | undefined => (r ? { ...r, enabled: r.enabled === 1 } : undefined);

export class BinlogArchivesTable {
  private readonly q;

  constructor(private readonly db: DB) {
    this.q = {
      get: db.prepare(`SELECT ${ARCHIVE} FROM binlog_archives WHERE cluster = ?`),
      all: db.prepare(`SELECT ${ARCHIVE} FROM binlog_archives ORDER BY cluster`),
      insert: db.prepare(`INSERT INTO binlog_archives (cluster, enabled, flavor, key_id, data_key, created_at, updated_at) VALUES (@cluster, 1, @flavor, @keyId, @dataKey, @now, @now)`),
      enable: db.prepare('UPDATE binlog_archives SET enabled = ?, updated_at = ? WHERE cluster = ?'),
      place: db.prepare('UPDATE binlog_archives SET node = ?, source = ?, updated_at = ? WHERE cluster = ?'),
      gap: db.prepare('UPDATE binlog_archives SET gap = ?, updated_at = ? WHERE cluster = ?'),
      addPiece: db.prepare(`INSERT OR IGNORE INTO binlog_archive_pieces (id, cluster, source_instance, file, from_offset, to_offset, gtids, before, first_event_at, last_event_at, stored_bytes, created_at)
        VALUES (@id, @cluster, @sourceInstance, @file, @fromOffset, @toOffset, @gtids, @before, @firstEventAt, @lastEventAt, @storedBytes, @now)`),
      pieces: db.prepare(`SELECT ${PIECE} FROM binlog_archive_pieces WHERE cluster = ? ORDER BY seq`),
      piece: db.prepare(`SELECT ${PIECE} FROM binlog_archive_pieces WHERE id = ?`),
      usage: db.prepare('SELECT count(*) AS count, coalesce(sum(stored_bytes), 0) AS bytes FROM binlog_archive_pieces'),
    };
  }

  // Sealed pieces of every archive and the bytes they hold in the repository (the capacity report).
  usage(): { count: number; bytes: number } {
    return this.q.usage.get() as { count: number; bytes: number };
  }

  get(cluster: string): BinlogArchiveRow | undefined {
    return row(this.q.get.get(cluster) as RawArchive | undefined);
  }

  all(): BinlogArchiveRow[] {
    return (this.q.all.all() as RawArchive[]).map((r) => row(r)!);
  }

  // A new archive, or an existing one turned on again (its key and pieces kept).
  enable(a: Pick<BinlogArchiveRow, 'cluster' | 'flavor' | 'keyId' | 'dataKey'>): BinlogArchiveRow {
    if (this.get(a.cluster)) this.q.enable.run(1, nowIso(), a.cluster);
    else this.q.insert.run({ ...a, now: nowIso() });
    return this.get(a.cluster)!;
  }

  disable(cluster: string): void {
    this.q.enable.run(0, nowIso(), cluster);
  }

  place(cluster: string, node: string, source: string): void {
    this.q.place.run(node, source, nowIso(), cluster);
  }

  setGap(cluster: string, gap: string): void {
    this.q.gap.run(gap, nowIso(), cluster);
  }

  addPiece(p: Omit<BinlogPieceRow, 'seq' | 'createdAt'>): void {
    this.q.addPiece.run({ ...p, now: nowIso() });
  }

  pieces(cluster: string): BinlogPieceRow[] {
    return this.q.pieces.all(cluster) as BinlogPieceRow[];
  }

  piece(id: string): BinlogPieceRow | undefined {
    return this.q.piece.get(id) as BinlogPieceRow | undefined;
  }
}
