import { invalidArgument } from '../../src/errors';
import type { Revocations as RevocationsMsg } from '../../src/gen/berth/v1/Revocations';
import { normalSerial, Revocations } from '../../src/tls/revocation';
import type { FleetState } from './fleet';
import type { RevokedRow } from '../store/revocations';

const KINDS = ['manager', 'node', 'viewer', 'operator', 'admin'];
const NAME = /^[a-z0-9]([a-z0-9.-]{0,62})$/;

export interface RevokeRequest {
  serial?: string;
  kind?: string;
  name?: string;
  reason?: string;
  // Who asked (the portal guard's principal), for the record and the event.
  by: string;
}

// The manager's revocation list: the store's rows (manager/store/revocations.ts) and an
// in-memory copy that every call is checked against (portal, registry, and the manager's own
// dials to agents). Agents get the list with heartbeat answers (forAgent).
export class RevocationState {
  readonly list = new Revocations();

  constructor(private readonly fleet: FleetState) {
    this.reload();
  }

  private reload(): void {
    const rows = this.fleet.store.revocations.all();
    this.list.apply({
      version: this.fleet.store.revocations.version(),
      serials: rows.filter((r) => r.serial).map((r) => r.serial),
      names: rows.filter((r) => r.name).map((r) => ({ kind: r.kind, name: r.name, issuedBeforeMs: r.issuedBeforeMs })),
    });
  }

  rows(): RevokedRow[] {
    return this.fleet.store.revocations.all();
  }

  get version(): number {
    return this.list.version;
  }

  // Validates, records (row and event in one transaction), and applies at once: the next call
  // of that certificate is refused. Revoking a serial twice answers with the first record.
  revoke(r: RevokeRequest): RevokedRow {
    const reason = (r.reason ?? '').slice(0, 500);
    const bySerial = Boolean(r.serial);
    const byName = Boolean(r.kind || r.name);
    if (bySerial === byName) throw invalidArgument('give either serial, or kind and name');
    let row: Omit<RevokedRow, 'id' | 'revokedAt'>;
    if (bySerial) {
      let serial: string;
      try {
        serial = normalSerial(r.serial!);
      } catch (err) {
        throw invalidArgument((err as Error).message);
      }
      const known = this.fleet.store.revocations.bySerial(serial);
      if (known) return known;
      row = { serial, kind: '', name: '', issuedBeforeMs: 0, revokedBy: r.by, reason };
    } else {
      if (!KINDS.includes(r.kind ?? '')) throw invalidArgument(`kind must be one of ${KINDS.join(', ')}`);
      if (!NAME.test(r.name ?? '')) throw invalidArgument('name must be a certificate name: lower-case letters, digits, dots and dashes, up to 63');
      row = { serial: '', kind: r.kind!, name: r.name!, issuedBeforeMs: Date.now(), revokedBy: r.by, reason };
    }
    const out = this.fleet.change(() => {
      const added = this.fleet.store.revocations.add(row);
      const what = added.serial ? `certificate ${added.serial}` : `every ${added.kind} certificate of ${added.name} issued up to ${new Date(added.issuedBeforeMs).toISOString()}`;
      this.fleet.event('certificate.revoked', added.serial || `${added.kind}:${added.name}`, `${r.by} revoked ${what}${reason ? `: ${reason}` : ''}`);
      return added;
    });
    this.reload();
    return out;
  }

  // The list for an agent's heartbeat answer, or null when it holds this version already.
  forAgent(agentVersion: number): RevocationsMsg | null {
    if (Number(agentVersion) === this.list.version) return null;
    const l = this.list.current();
    return { version: l.version, serials: l.serials, names: l.names.map((n) => ({ kind: n.kind, name: n.name, issuedBeforeMs: n.issuedBeforeMs })) };
  }
}
