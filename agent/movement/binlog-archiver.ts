import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { failedPrecondition, invalidArgument } from '../../src/errors';
import type { BinlogFlavor } from '../../src/backup/binlog-events';
import type { Repository } from '../../src/backup/repository';
import { repositoryOf } from './repository-of';
import { formatGtidSet, isEmpty, parseGtidSet, union, type GtidSet } from '../../src/mysql/gtid';
import type { BinlogArchiverStatus } from '../../src/gen/berth/v1/BinlogArchiverStatus';
import type { RunBinlogArchiverRequest__Output } from '../../src/gen/berth/v1/RunBinlogArchiverRequest';
import type { SealedBinlogPiece } from '../../src/gen/berth/v1/SealedBinlogPiece';
import type { StopBinlogArchiverRequest__Output } from '../../src/gen/berth/v1/StopBinlogArchiverRequest';
import { LABEL, type RunningHelper } from '../docker';
import type { SeedContext } from './seed';
import { nextStretch, sealPiece, type TailFile } from './binlog-seal';

// Continuous binlog archiving on this node (docs/backup.md): per archive, a throwaway container
// of the instance's image runs the flavor's client against the primary with --raw --stop-never,
// writing the stream into a directory on this node's disk; a timer seals the complete
// transactions of the growing files into the repository (a piece per seal), and the manager
// records each piece (its manifest, the catalog) and acknowledges it on its next call.
const NAME = /^[a-z][a-z0-9-]{0,62}$/;
const FILE = /^binlog\.\d{6}$/;
const TICK_MS = 250;

interface Session {
  source: string;
  dir: string;
  helper: RunningHelper;
  files: Map<string, TailFile>;
  timer?: NodeJS.Timeout;
  busy?: Promise<void>;
  lastSealMs: number;
  sealEveryMs: number;
  repo: Repository;
  dataKey: Buffer;
  // GTIDs seen in the unsealed tail at the last scan.
  tail: GtidSet;
}

interface Archive {
  flavor: BinlogFlavor;
  // Everything sealed (and what the manager said the archive held when this node took it over).
  archived: GtidSet;
  pending: SealedBinlogPiece[];
  seq: number;
  session?: Session;
  receivedAtMs: number;
  lastEventAt: number;
  error: string;
}

export class BinlogArchivers {
  private readonly archives = new Map<string, Archive>();

  constructor(private readonly ctx: SeedContext) {}

  async run(req: RunBinlogArchiverRequest__Output): Promise<BinlogArchiverStatus> {
    if (!NAME.test(req.archive)) throw invalidArgument('archive is not a cluster name');
    if (req.flavor !== 'mysql' && req.flavor !== 'mariadb') throw invalidArgument('flavor is mysql or mariadb');
    if (req.dataKey.length !== 32) throw invalidArgument('data_key must be 32 bytes');
    if (!/^[0-9.]{7,15}$/.test(req.sourceHost) || !req.sourcePort) throw invalidArgument('source_host:source_port is not an address');
    let a = this.archives.get(req.archive);
    if (!a || a.flavor !== req.flavor) {
      a = { flavor: req.flavor, archived: parseGtidSet(req.flavor, req.startGtids), pending: [], seq: 0, receivedAtMs: 0, lastEventAt: 0, error: '' };
      this.archives.set(req.archive, a);
    }
    a.pending = a.pending.filter((p) => !req.recorded.includes(p.id!));
    const s = a.session;
    const exited = s ? await exitedYet(s.helper) : false;
    if (s && exited) a.error = `the binlog client exited: ${s.helper.stderr().trim().slice(-500)}`;
    if (s && (s.source !== req.sourceInstance || exited)) await this.finish(req.archive, a);
    if (!a.session) a.session = await this.start(req, a);
    return this.status(a);
  }

  async stop(req: StopBinlogArchiverRequest__Output): Promise<BinlogArchiverStatus> {
    const a = this.archives.get(req.archive);
    if (!a) return { running: false, pieces: [], receivedGtids: '', sourceInstance: '', receivedAtMs: 0, lastEventAt: 0, error: '' };
    a.pending = a.pending.filter((p) => !req.recorded.includes(p.id!));
    await this.finish(req.archive, a);
    const st = this.status(a);
    // What it sealed goes back in this answer; a later run here starts from the manager's word.
    this.archives.delete(req.archive);
    return st;
  }

  private status(a: Archive): BinlogArchiverStatus {
    const received = a.session ? union(a.archived, a.session.tail) : a.archived;
    return { running: !!a.session, sourceInstance: a.session?.source ?? '', pieces: a.pending, receivedGtids: formatGtidSet(received), receivedAtMs: a.receivedAtMs, lastEventAt: a.lastEventAt, error: a.error };
  }

  private async start(req: RunBinlogArchiverRequest__Output, a: Archive): Promise<Session> {
    const root = this.ctx.disks[0];
    if (!root) throw failedPrecondition('this node has no data disk to keep a binlog tail on');
    const dir = path.join(root, 'berth', '.binlog-archive', req.archive, `${Date.now()}-${req.sourceInstance}`);
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    // The password in a 0600 file, never on a command line.
    await fs.writeFile(path.join(dir, '.client.cnf'), `[client]\nuser=${req.user}\npassword=${req.password}\n`, { mode: 0o600 });
    await this.removeLeftovers(req.archive);
    const cmd = clientCommand(req.flavor as BinlogFlavor, { host: req.sourceHost, port: req.sourcePort, start: a.archived, serverId: archiverServerId(req.archive) });
    const helper = await this.ctx.docker.startHelper({ image: req.image, cmd: ['bash', '-c', `cd /archive && exec ${cmd}`], binds: [`${dir}:/archive`], labels: this.labels(req.archive), limits: 'init', network: 'host' });
    const s: Session = { source: req.sourceInstance, dir, helper, files: new Map(), lastSealMs: Date.now(), sealEveryMs: Math.max(200, req.sealEveryMs || 2000), repo: repositoryOf(req.repository, req.repositoryCredentials), dataKey: Buffer.from(req.dataKey), tail: parseGtidSet(req.flavor as BinlogFlavor, '') };
    s.timer = setInterval(() => void this.tick(req.archive, a, s, false), TICK_MS);
    this.ctx.log.info({ archive: req.archive, source: req.sourceInstance, from: formatGtidSet(a.archived) }, 'binlog archiver started');
    return s;
  }

  private labels(archive: string): Record<string, string> {
    // role=init: an agent restarted removes it with the other leftovers.
    return { [LABEL.managed]: 'true', [LABEL.node]: this.ctx.node, [LABEL.instance]: `archive-${archive}`, [LABEL.role]: 'init' };
  }

  private async removeLeftovers(archive: string): Promise<void> {
    for (const c of await this.ctx.docker.list(this.labels(archive))) await this.ctx.docker.remove(c.id);
  }

  // The client is stopped, then every complete transaction it wrote is sealed; a transaction
  // cut off at the end is not (the new primary sends it again if it has it).
  private async finish(archive: string, a: Archive): Promise<void> {
    const s = a.session;
    if (!s) return;
    clearInterval(s.timer);
    await s.busy;
    await s.helper.remove();
    await this.tick(archive, a, s, true);
    a.session = undefined;
    // What was complete is sealed; the rest (a cut-off transaction, the account's file) goes.
    await fs.rm(s.dir, { recursive: true, force: true });
    this.ctx.log.info({ archive, source: s.source, archived: formatGtidSet(a.archived) }, 'binlog archiver stopped');
  }

  private tick(archive: string, a: Archive, s: Session, final: boolean): Promise<void> {
    if (s.busy && !final) return s.busy;
    s.busy = this.scan(a, s, final)
      .then(() => undefined)
      .catch((err: Error) => {
        a.error = err.message;
        this.ctx.log.warn({ archive, err: err.message }, 'binlog archiver could not seal');
      })
      .finally(() => (s.busy = undefined));
    return s.busy;
  }

  // A closed file whose transactions are all sealed leaves the archiver's disk (only a Rotate or
  // Stop event is left past its last transaction).
  private async drop(s: Session, name: string): Promise<void> {
    await fs.rm(path.join(s.dir, name), { force: true });
    s.files.delete(name);
  }

  private async scan(a: Archive, s: Session, final: boolean): Promise<void> {
    const names = (await fs.readdir(s.dir)).filter((n) => FILE.test(n)).sort();
    const now = Date.now();
    const due = final || now - s.lastSealMs >= s.sealEveryMs;
    let tail = parseGtidSet(a.flavor, '');
    for (const [i, name] of names.entries()) {
      const f = s.files.get(name) ?? { name, sealed: 0 };
      s.files.set(name, f);
      const closed = i < names.length - 1;
      const st = await nextStretch(s.dir, f, a.flavor);
      if (!st) {
        if (closed) await this.drop(s, name);
        continue;
      }
      if (st.lastAt > a.lastEventAt) (a.lastEventAt = st.lastAt), (a.receivedAtMs = now);
      if (!(closed || due)) {
        tail = union(tail, parseGtidSet(a.flavor, st.gtids.join(',')));
        continue;
      }
      const piece = await sealPiece(s.repo, s.dataKey, st, f, { seq: ++a.seq, source: s.source, flavor: a.flavor });
      a.pending.push(piece);
      a.archived = union(a.archived, parseGtidSet(a.flavor, piece.gtids!));
      s.lastSealMs = now;
      a.error = '';
      if (closed) await this.drop(s, name);
    }
    s.tail = tail;
    if (!isEmpty(tail) && !a.receivedAtMs) a.receivedAtMs = now;
  }
}

async function exitedYet(h: RunningHelper): Promise<boolean> {
  return Promise.race([h.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10))]);
}

// A replica server id of its own per archive (the server drops an older dump of the same id).
export function archiverServerId(archive: string): number {
  return 3_000_000_000 + (createHash('sha256').update(archive).digest().readUInt32BE(0) % 1_000_000_000);
}

// The flavor's client, streaming raw binlog files from the archive's GTID state on: MySQL sends
// the set to skip (BINLOG-DUMP-GTIDS); MariaDB starts after the position (a GTID start position
// works against a server in 10.11). An empty archive starts at the first file.
export function clientCommand(flavor: BinlogFlavor, o: { host: string; port: number; start: GtidSet; serverId: number }): string {
  const from = formatGtidSet(o.start);
  const common = `--defaults-extra-file=/archive/.client.cnf --host=${o.host} --port=${o.port} --raw --stop-never`;
  if (flavor === 'mysql') {
    return `mysqlbinlog ${common} --read-from-remote-source=BINLOG-DUMP-GTIDS --get-server-public-key --connection-server-id=${o.serverId} ${from ? `--exclude-gtids='${from}'` : ''} binlog.000001`;
  }
  const start = from ? `--start-position='${from}'` : '--start-position=4';
  return `mariadb-binlog ${common} --read-from-remote-server --stop-never-slave-server-id=${o.serverId} ${start} binlog.000001`;
}
