import type { PortalHandlers } from '../../src/gen/berth/v1/Portal';
import type { Logger } from '../../src/log';
import { unary } from '../../src/rpc';
import type { RevokedRow } from '../store/revocations';
import { principalOf } from '../auth/principal';
import type { RevocationState } from '../state/revocations';

type CertHandlers = Pick<PortalHandlers, 'RevokeCertificate' | 'ListRevokedCertificates'>;

const out = (r: RevokedRow) => ({
  serial: r.serial,
  kind: r.kind,
  name: r.name,
  issuedBefore: r.issuedBeforeMs ? new Date(r.issuedBeforeMs).toISOString() : '',
  revokedAt: r.revokedAt,
  revokedBy: r.revokedBy,
  reason: r.reason,
});

// The portal's certificate revocation RPCs (admin only, by the policy table).
export function certHandlers(revocations: RevocationState, log: Logger): CertHandlers {
  return {
    RevokeCertificate: unary(log, 'RevokeCertificate', (req, call) => {
      const by = principalOf(call)?.who ?? 'unknown';
      const row = revocations.revoke({ serial: req.serial, kind: req.kind, name: req.name, reason: req.reason, by });
      log.warn({ serial: row.serial || undefined, kind: row.kind || undefined, name: row.name || undefined, by }, 'certificate revoked');
      return { revoked: out(row), version: revocations.version };
    }),
    ListRevokedCertificates: unary(log, 'ListRevokedCertificates', () => ({ revoked: revocations.rows().map(out), version: revocations.version })),
  };
}
