import type { AgentReplicationState } from '../src/gen/berth/v1/AgentReplicationState';
import { errorMessage } from '../src/errors';
import type { Logger } from '../src/log';
import type { Flavor } from '../src/mysql/dialect';
import { formatGtidSet, parseGtidSet } from '../src/mysql/gtid';
import type { InstanceStatus } from './instance/lifecycle';
import { Repeat } from './repeat';
import { urgentChange } from './replication-change';
import { layoutFor } from './instance/layout';
import { onSocket, type Session } from './session';

export interface ReplicationProbeConfig {
  intervalMs: number;
  // A probe slower than this counts as mysqld not answering.
  timeoutMs: number;
}

export const DEFAULT_REPLICATION_PROBE: ReplicationProbeConfig = { intervalMs: 1000, timeoutMs: 1500 };

// Reads every instance's replication, read-only and semi-sync state through the Dialect about
// once a second, so heartbeats carry it without a query of their own and failure detection
// sees a mysqld that stopped answering within a second or two. `onChange` is told when an
// instance goes up or down or a replica's IO thread stops or starts (replication-change.ts), so
// the heartbeat can leave at once instead of at its next tick.
export class ReplicationProbe {
  private readonly cache = new Map<string, AgentReplicationState>();
  private readonly repeat: Repeat;

  constructor(
    private readonly list: () => Promise<InstanceStatus[]>,
    private readonly cfg: ReplicationProbeConfig,
    private readonly log: Logger,
    private readonly onChange: () => void = () => undefined,
    private readonly isLeaseFenced: (id: string, readOnly: boolean) => boolean = () => false,
  ) {
    this.repeat = new Repeat(cfg.intervalMs, () => this.refresh(), (err) => this.log.warn({ err: errorMessage(err) }, 'reading replication state failed'));
  }

  start(): void {
    this.repeat.start();
  }

  stop(): void {
    this.repeat.stop();
  }

  get(id: string): AgentReplicationState | undefined {
    return this.cache.get(id);
  }

  async refresh(): Promise<void> {
    const list = await this.list();
    let changed = false;
    await Promise.all(
      list.map(async (i) => {
        const prev = this.cache.get(i.id);
        const now = Date.now();
        const read = i.state === 'running' ? await withTimeout(readState(i), this.cfg.timeoutMs).catch(() => undefined) : undefined;
        const next: AgentReplicationState = read
          ? { ...read, measuredAtMs: now, mysqldUp: true, mysqldDownSinceMs: 0, leaseFenced: this.isLeaseFenced(i.id, Boolean(read.readOnly)) }
          : { ...(prev ?? {}), measuredAtMs: now, mysqldUp: false, mysqldDownSinceMs: prev && !prev.mysqldUp ? prev.mysqldDownSinceMs : now };
        if (urgentChange(prev, next)) changed = true;
        this.cache.set(i.id, next);
      }),
    );
    const ids = new Set(list.map((i) => i.id));
    for (const id of this.cache.keys()) if (!ids.has(id)) this.cache.delete(id);
    if (changed) this.onChange();
  }
}

// One socket connection, four reads; errors mean "mysqld does not answer" to the caller.
export async function readState(i: InstanceStatus): Promise<AgentReplicationState> {
  return onSocket(layoutFor(i.diskPath, i.id).socket, i.flavor as Flavor, readOn, { timeoutMs: 1000 });
}

async function readOn(s: Session): Promise<AgentReplicationState> {
  const { d } = s;
  const [idRow] = await s.rows<{ uuid: string; id: number; ro: number; sro: number }>(d.serverIdentity());
  const [gtidRow] = await s.rows<{ gtid: string | null }>(d.executedGtid());
  const [replicaRow] = await s.rows(d.replicaStatus());
  const semi = d.parseSemiSync(await s.rows<{ name: string; value: unknown }>(d.semiSyncState()));
  const t = d.parseReplicaStatus(replicaRow);
  // A consensus cluster member's place in its group (none on a server outside one).
  const g = d.group ? d.group.self(d.group.parseMembers(await s.rows(d.group.members()))) : undefined;
  return {
    serverUuid: String(idRow?.uuid ?? ''),
    serverId: Number(idRow?.id ?? 0),
    readOnly: Number(idRow?.ro) === 1,
    superReadOnly: Number(idRow?.sro) === 1,
    executedGtids: normalGtids(d.flavor, gtidRow?.gtid ?? ''),
    configured: t.configured,
    ioRunning: t.ioRunning,
    ioConnecting: t.ioConnecting,
    sqlRunning: t.sqlRunning,
    secondsBehind: t.secondsBehind ?? -1,
    receivedGtids: t.receivedGtids,
    lastIoError: t.lastIoError,
    lastSqlError: t.lastSqlError,
    sourceHost: t.sourceHost,
    sourcePort: t.sourcePort,
    semiSyncEnabled: semi.enabled,
    semiSyncActive: semi.active,
    semiSyncClients: semi.clients,
    groupState: g?.state ?? '',
    groupRole: g?.role ?? '',
    groupOnline: g?.online ?? 0,
    groupSize: g?.size ?? 0,
    groupVersion: g?.version ?? '',
  };
}

// A set the parser cannot read is passed on as the server wrote it (the manager says so) rather
// than turning a live mysqld into a dead one.
function normalGtids(flavor: Flavor, text: string): string {
  try {
    return formatGtidSet(parseGtidSet(flavor, text));
  } catch {
    return text.replace(/\s+/g, '');
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((_, reject) => (t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}
