import { failedPrecondition, invalidArgument } from '../../src/errors';
import type { AgentGroupStatus } from '../../src/gen/berth/v1/AgentGroupStatus';
import type { StartGroupRequest__Output } from '../../src/gen/berth/v1/StartGroupRequest';
import type { GroupDialect } from '../../src/mysql/dialect-interface';
import type { Instances } from '../instance/lifecycle';
import { withInstance, type Session } from './sql';

const USER = /^[A-Za-z0-9_]{1,32}$/;

// START GROUP_REPLICATION returns once the member is ONLINE or failed to join; a join that
// recovers a backlog from a donor takes longer than the default handler limit.
export const GROUP_START_LIMIT_MS = 10 * 60_000;

function groupOf(s: Session): GroupDialect {
  const g = s.d.group;
  if (!g || g.kind !== 'group-replication') throw failedPrecondition(`instance ${s.inst.id} is ${s.d.flavor}: it has no Group Replication`);
  return g;
}

// Consensus clusters (MySQL Group Replication): the member's group part, started by the agent
// as root on the instance's socket. The settings are in its my.cnf already (CreateInstance).
export class GroupControl {
  constructor(private readonly instances: Instances) {}

  // The recovery channel's account first (a joiner fetches what it lacks from a donor with it),
  // then bootstrap or join. A member already ONLINE is answered as it is: a retried call after
  // the manager's deadline passed must not stop and restart a member that made it.
  start(req: StartGroupRequest__Output): Promise<AgentGroupStatus> {
    if (!USER.test(req.recoveryUser) || !req.recoveryPassword) throw invalidArgument('a recovery user (letters, digits, _) and password are required');
    return withInstance(this.instances, req.id, async (s) => {
      const g = groupOf(s);
      const now = g.parseMembers(await s.rows(g.members()));
      if (now.find((m) => m.local)?.state === 'ONLINE') return { members: now };
      await s.run(g.setRecoveryAccount(req.recoveryUser, req.recoveryPassword), [req.recoveryPassword]);
      if (!req.bootstrap) await s.run(g.start());
      else {
        await s.run(g.bootstrapOn());
        try {
          await s.run(g.start());
        } finally {
          await s.run(g.bootstrapOff());
        }
      }
      return { members: g.parseMembers(await s.rows(g.members())) };
    });
  }

  // Either flavor: Galera answers its own row and its component's client addresses.
  status(id: string): Promise<AgentGroupStatus> {
    return withInstance(this.instances, id, async (s) => {
      const g = s.d.group;
      if (!g) throw failedPrecondition(`instance ${s.inst.id} is ${s.d.flavor}: it has no consensus clusters`);
      return { members: g.parseMembers(await s.rows(g.members())) };
    });
  }
}
