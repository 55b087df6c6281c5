import fs from 'node:fs/promises';
import { failedPrecondition, invalidArgument } from '../../src/errors';
import { REPLICA_NET_TIMEOUT_S } from '../../src/mysql/common-sql';
import type { AgentReplicaStatus } from '../../src/gen/berth/v1/AgentReplicaStatus';
import type { ConfigureReplicaRequest__Output } from '../../src/gen/berth/v1/ConfigureReplicaRequest';
import type { KillClientConnectionsResponse } from '../../src/gen/berth/v1/KillClientConnectionsResponse';
import type { ReplicationUserRequest__Output } from '../../src/gen/berth/v1/ReplicationUserRequest';
import type { SetReadOnlyRequest__Output } from '../../src/gen/berth/v1/SetReadOnlyRequest';
import type { SetReadOnlyResponse } from '../../src/gen/berth/v1/SetReadOnlyResponse';
import type { WaitForGtidResponse } from '../../src/gen/berth/v1/WaitForGtidResponse';
import { layoutFor } from '../instance/layout';
import type { Instances } from '../instance/lifecycle';
import { setReadOnlyOn, writesStopped } from './read-only';
import { withReplicaSection } from './replica-cnf';
import { executedGtid, withInstance, type Session } from './sql';
import { requireSslFor, tlsTowards } from './tls';

const USER = /^[A-Za-z0-9_]{1,32}$/;
const HOST = /^[A-Za-z0-9_.:%-]{1,60}$/;
// How long killed sessions get to disappear before the call gives up on them.
const KILL_SETTLE_MS = 10_000;

export class Replication {
  constructor(private readonly instances: Instances) {}

  createUser(req: ReplicationUserRequest__Output): Promise<void> {
    const { user, host } = account(req);
    if (!req.password) throw invalidArgument('a password is required');
    return withInstance(this.instances, req.id, async (s) => {
      if (req.cloneDonor && s.d.flavor !== 'mysql') throw failedPrecondition(`${s.d.flavor} has no CLONE: copy it with mariabackup`);
      // A donor needs the clone plugin too, not only the recipient.
      const check = req.cloneDonor ? s.d.clonePluginCheck() : undefined;
      if (check && (await s.rows(check)).length === 0) await s.run(s.d.installClonePlugin());
      if (req.cloneDonor && req.monitor) throw invalidArgument('an account is a clone donor or a monitor, not both');
      const requireSsl = requireSslFor(s.inst);
      const sts = req.cloneDonor
        ? s.d.createCloneDonorUser(user, host, req.password, { requireSsl })
        : req.monitor
          ? s.d.createMonitorUser(user, host, req.password, { binlog: req.binlog })
          : s.d.createReplicationUser(user, host, req.password, { binlog: req.binlog, requireSsl });
      await fenced(s, () => s.run(sts, [req.password]), `create account ${user}`);
    });
  }

  dropUser(req: ReplicationUserRequest__Output): Promise<void> {
    const { user, host } = account(req);
    return withInstance(this.instances, req.id, (s) => fenced(s, () => s.run(s.d.dropReplicationUser(user, host, { binlog: req.binlog })), `drop account ${user}`));
  }

  configure(req: ConfigureReplicaRequest__Output): Promise<AgentReplicaStatus> {
    if (!req.sourceHost || !req.sourcePort || !req.user || !req.password) throw invalidArgument('source host, port, user and password are required');
    return withInstance(this.instances, req.id, async (s) => {
      const src = { host: req.sourceHost, port: req.sourcePort, user: req.user, password: req.password };
      const tls = await tlsTowards(s.inst, src.host, src.port);
      await s.run(s.d.configureReplica(src, req.gtidPosition || undefined, tls), [req.password]);
      await s.run(s.d.replicaLossDetection(REPLICA_NET_TIMEOUT_S));
      if (req.start) await s.run(s.d.startReplica());
      return status(s);
    });
  }

  start(id: string): Promise<AgentReplicaStatus> {
    return withInstance(this.instances, id, async (s) => (await s.run(s.d.startReplica()), status(s)));
  }

  stop(id: string, ioOnly: boolean): Promise<AgentReplicaStatus> {
    return withInstance(this.instances, id, async (s) => (await s.run(s.d.stopReplica(ioOnly)), status(s)));
  }

  reset(id: string): Promise<AgentReplicaStatus> {
    return withInstance(this.instances, id, async (s) => (await s.run(s.d.resetReplica()), status(s)));
  }

  status(id: string): Promise<AgentReplicaStatus> {
    return withInstance(this.instances, id, status);
  }

  // Read-only on or off (agent/movement/read-only.ts).
  setReadOnly(req: Pick<SetReadOnlyRequest__Output, 'id' | 'readOnly' | 'persist'>): Promise<SetReadOnlyResponse> {
    return withInstance(this.instances, req.id, async (s) => {
      const revoked = await setReadOnlyOn(s, layoutFor(s.inst.diskPath, s.inst.id).root, req.readOnly);
      if (req.persist) await this.persist(s, req.readOnly);
      return { revoked, executedGtids: await executedGtid(s) };
    });
  }

  private async persist(s: Session, readOnly: boolean): Promise<void> {
    const file = layoutFor(s.inst.diskPath, s.inst.id).mycnf;
    const cnf = await fs.readFile(file, 'utf8');
    await fs.writeFile(file, withReplicaSection(cnf, readOnly ? s.d.replicaSettings() : undefined), { mode: 0o644 });
  }

  // Fencing (agent/fence.ts): ends every client session and reports how many are still there
  // after `settleMs` instead of waiting for them (a commit waiting for a semi-sync ACK cannot be
  // killed on MariaDB 10.11: it goes on waiting).
  killClientsWithin(id: string, settleMs: number): Promise<{ killed: number; left: number }> {
    return withInstance(this.instances, id, async (s) => {
      const ids = (await s.rows<{ id: number }>(s.d.clientConnections())).map((r) => Number(r.id));
      for (const cid of ids) await s.run([s.d.killConnection(cid)]).catch(() => undefined);
      const deadline = Date.now() + settleMs;
      for (;;) {
        const left = (await s.rows<{ id: number }>(s.d.clientConnections())).filter((r) => ids.includes(Number(r.id))).length;
        if (left === 0 || Date.now() > deadline) return { killed: ids.length, left };
        await new Promise((r) => setTimeout(r, 20));
      }
    });
  }

  // Ends every client session and waits until they are gone, then reads the executed set.
  killClients(id: string): Promise<KillClientConnectionsResponse> {
    return withInstance(this.instances, id, async (s) => {
      const ids = (await s.rows<{ id: number }>(s.d.clientConnections())).map((r) => Number(r.id));
      for (const cid of ids) {
        // 1094: the session ended by itself meanwhile.
        await s.run([s.d.killConnection(cid)]).catch((err: { errno?: number }) => (err.errno === 1094 ? undefined : Promise.reject(err)));
      }
      const deadline = Date.now() + KILL_SETTLE_MS;
      for (;;) {
        const left = (await s.rows<{ id: number }>(s.d.clientConnections())).filter((r) => ids.includes(Number(r.id)));
        if (left.length === 0) break;
        if (Date.now() > deadline) throw new Error(`${left.length} killed sessions of ${id} did not end within ${KILL_SETTLE_MS / 1000} s`);
        await new Promise((r) => setTimeout(r, 10));
      }
      return { killed: ids.length, executedGtids: await executedGtid(s) };
    });
  }

  waitForGtid(id: string, gtidSet: string, timeoutMs: number): Promise<WaitForGtidResponse> {
    return withInstance(this.instances, id, async (s) => {
      const [row] = await s.rows<{ r: number | null }>(s.d.waitForGtid(gtidSet, Math.max(0, timeoutMs) / 1000));
      return { reached: row?.r !== null && Number(row?.r) === 0, executedGtids: await executedGtid(s) };
    });
  }
}

// A read-only server stays read-only even when statements that lift a fence for a moment fail
// half-way (MySQL's super_read_only around account changes). Where that lift lets privileged
// sessions write, it is refused on a server whose writes were stopped (read-only.ts).
async function fenced(s: Session, fn: () => Promise<void>, what: string): Promise<void> {
  const [ro] = await s.rows<{ ro: number }>(s.d.readOnlyState());
  if (Number(ro?.ro) === 1 && s.d.accountChangesLiftReadOnly && (await writesStopped(layoutFor(s.inst.diskPath, s.inst.id).root))) {
    throw failedPrecondition(`${s.inst.id} was made read-only to stop its writes: ${what} would lift super_read_only and let privileged sessions write to it`);
  }
  try {
    await fn();
  } catch (err) {
    if (Number(ro?.ro) === 1) await s.run(s.d.setReadOnly(true)).catch(() => undefined);
    throw err;
  }
}

function account(req: ReplicationUserRequest__Output): { user: string; host: string } {
  const host = req.host || '%';
  if (!USER.test(req.user)) throw invalidArgument(`replication user "${req.user.slice(0, 40)}" must be 1-32 letters, digits or _`);
  if (!HOST.test(host)) throw invalidArgument(`account host "${host.slice(0, 60)}" is not a host name, address or pattern`);
  return { user: req.user, host };
}

async function status(s: Session): Promise<AgentReplicaStatus> {
  const [row] = await s.rows(s.d.replicaStatus());
  const t = s.d.parseReplicaStatus(row);
  const [ro] = await s.rows<{ ro: number }>(s.d.readOnlyState());
  return {
    configured: t.configured,
    ioRunning: t.ioRunning,
    ioConnecting: t.ioConnecting,
    sqlRunning: t.sqlRunning,
    secondsBehind: t.secondsBehind ?? -1,
    lastIoError: t.lastIoError,
    lastSqlError: t.lastSqlError,
    receivedGtids: t.receivedGtids,
    executedGtids: await executedGtid(s),
    sourceHost: t.sourceHost,
    sourcePort: t.sourcePort,
    readOnly: Number(ro?.ro) === 1,
    flavor: s.d.flavor,
    originGtids: String((await s.rows<{ gtid: string | null }>(s.d.originGtids()))[0]?.gtid ?? ''),
  };
}
