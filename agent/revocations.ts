import fs from 'node:fs';
import path from 'node:path';
import type { Revocations__Output } from '../src/gen/berth/v1/Revocations';
import type { Logger } from '../src/log';
import { peerRevocations, type RevocationList } from '../src/tls/revocation';

// The manager's certificate revocation list as this agent holds it. Kept in a file beside the
// instance directories (root's, not an instance's), so a restarted agent refuses revoked
// certificates from its first call, before it has heard from the manager again.
export class AgentRevocations {
  constructor(
    private readonly file: string,
    private readonly log: Logger,
  ) {}

  static fileFor(disk: string): string {
    return path.join(disk, 'berth', '.revocations.json');
  }

  load(): void {
    try {
      const list = JSON.parse(fs.readFileSync(this.file, 'utf8')) as RevocationList;
      peerRevocations.apply(list);
      this.log.info({ version: list.version, serials: list.serials.length, names: list.names.length }, 'certificate revocation list loaded');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ file: this.file, err: (err as Error).message }, 'certificate revocation list unreadable; waiting for the manager');
    }
  }

  get version(): number {
    return peerRevocations.version;
  }

  // A list from a Register or Heartbeat answer (null: the agent's is current).
  apply(msg: Revocations__Output | null | undefined): void {
    if (!msg) return;
    const list: RevocationList = { version: Number(msg.version), serials: msg.serials, names: msg.names.map((n) => ({ kind: n.kind, name: n.name, issuedBeforeMs: Number(n.issuedBeforeMs) })) };
    if (list.version === peerRevocations.version && peerRevocations.loaded) return;
    peerRevocations.apply(list);
    this.log.warn({ version: list.version, serials: list.serials.length, names: list.names.length }, 'certificate revocation list updated');
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify(list), { mode: 0o600 });
      fs.renameSync(tmp, this.file);
    } catch (err) {
      this.log.warn({ file: this.file, err: (err as Error).message }, 'could not keep the revocation list on disk (it applies in memory)');
    }
  }
}
