import type { SourceTls } from '../../src/mysql/dialect';
import { offersTls } from '../../src/mysql/greeting';
import { TLS_IN_CONTAINER } from '../instance/mycnf';
import type { InstanceStatus } from '../instance/lifecycle';

// Replication and CLONE connect to their source over TLS, verifying its certificate with the
// fleet CA, when this instance has that CA (its node has a MySQL certificate) and the source
// offers TLS (its greeting says so). A source that does not answer now (a failover re-pointing
// at a primary still starting) is taken to be like this one: in a fleet that requires TLS every
// node has its certificate. Needed, not only better: a source that requires TLS refuses
// plaintext replicas (require_secure_transport, and its accounts are REQUIRE SSL).
export async function tlsTowards(inst: Pick<InstanceStatus, 'tls'>, host: string, port: number, probe = offersTls): Promise<SourceTls | undefined> {
  if (!inst.tls) return undefined;
  return (await probe(host, port)) === false ? undefined : { ca: TLS_IN_CONTAINER.ca };
}

// Accounts other servers connect with (replication, CLONE donors) need TLS where the server
// requires it of its clients.
export const requireSslFor = (inst: Pick<InstanceStatus, 'tls'>): boolean => !!inst.tls?.required;
