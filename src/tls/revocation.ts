import type { PeerCertificate } from 'node:tls';
import type { X509Certificate } from 'node:crypto';

// Certificate revocation, shared by the manager (which keeps the list in its store) and the
// agents (which get it with every heartbeat answer that changes it). Two kinds of entry:
//  - a serial: exactly one certificate;
//  - a name (kind + CN) with a time: every certificate of that identity whose notBefore is at or
//    before it. This is what stops a stolen certificate after `certs issue --force`: the old
//    serial need not be known (the file holding it was overwritten by the re-issue).
// openssl writes notBefore in whole seconds: a certificate re-issued in the same second as a
// revocation by name counts as revoked too (re-issue after the revocation, a second later).
export interface RevokedName {
  kind: string;
  name: string;
  issuedBeforeMs: number;
}

export interface RevocationList {
  version: number;
  serials: string[];
  names: RevokedName[];
}

// Upper-case hex without separators or leading zeros: how Node prints serialNumber, whatever
// way a person typed it (openssl prints "serial=0A1B…", others "0a:1b:…").
export function normalSerial(s: string): string {
  const hex = s.replace(/^serial=/i, '').replace(/[\s:]/g, '').toUpperCase();
  if (!/^[0-9A-F]{1,64}$/.test(hex)) throw new Error(`"${s}" is not a certificate serial (hex digits, up to 64)`);
  return hex.replace(/^0+(?=.)/, '');
}

// What the checks need from a certificate, whichever API it came from.
export interface CertFacts {
  serial: string;
  kind?: string;
  name?: string;
  notBeforeMs: number;
}

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

export function factsOfPeer(c: PeerCertificate): CertFacts {
  return { serial: c.serialNumber ?? '', kind: first(c.subject?.OU), name: first(c.subject?.CN), notBeforeMs: Date.parse(c.valid_from) };
}

export function factsOfX509(c: X509Certificate): CertFacts {
  const field = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(c.subject)?.[1];
  return { serial: c.serialNumber, kind: field('OU'), name: field('CN'), notBeforeMs: Date.parse(c.validFrom) };
}

export class Revocations {
  private list: RevocationList = { version: 0, serials: [], names: [] };
  private serials = new Set<string>();
  private names = new Map<string, number>();
  // False until a list was applied: an agent that has not heard from the manager yet (and
  // found none saved) says so rather than pretending nothing is revoked.
  loaded = false;

  get version(): number {
    return this.list.version;
  }

  current(): RevocationList {
    return this.list;
  }

  apply(list: RevocationList): void {
    const serials = new Set<string>();
    for (const s of list.serials) {
      try {
        serials.add(normalSerial(s));
      } catch {
        // An entry this side cannot read is skipped, not a reason to drop the whole list.
      }
    }
    const names = new Map<string, number>();
    for (const n of list.names) names.set(`${n.kind}\u0000${n.name}`, Math.max(names.get(`${n.kind}\u0000${n.name}`) ?? 0, Number(n.issuedBeforeMs)));
    this.list = { version: Number(list.version), serials: [...serials], names: list.names.map((n) => ({ kind: n.kind, name: n.name, issuedBeforeMs: Number(n.issuedBeforeMs) })) };
    this.serials = serials;
    this.names = names;
    this.loaded = true;
  }

  // Why this certificate is revoked, or undefined when it is not.
  why(c: CertFacts | undefined): string | undefined {
    if (!c) return undefined;
    let serial = '';
    try {
      serial = normalSerial(c.serial);
    } catch {
      return undefined;
    }
    if (this.serials.has(serial)) return `certificate ${serial} (${c.kind ?? '?'} ${c.name ?? '?'}) is revoked`;
    if (c.kind && c.name) {
      const before = this.names.get(`${c.kind}\u0000${c.name}`);
      if (before !== undefined && c.notBeforeMs <= before) return `certificates of ${c.kind} ${c.name} issued up to ${new Date(before).toISOString()} are revoked (this one: ${serial})`;
    }
    return undefined;
  }

  whyPeer(c: PeerCertificate | undefined): string | undefined {
    return c?.serialNumber ? this.why(factsOfPeer(c)) : undefined;
  }
}

// This process's list when it is an agent: set from the manager's heartbeat answers
// (agent/revocations.ts) and read where the agent accepts a certificate: its gRPC server, the
// direct copy socket (both ends) and the manager certificate inside a backup grant. One list
// per process, like the grant issuer: no caller can forget to pass it.
export const peerRevocations = new Revocations();
