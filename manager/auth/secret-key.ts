import fs from 'node:fs';
import path from 'node:path';
import { isSealed, newKey, SecretBox, type SecretKey } from '../../src/security/secretbox';
import type { Store } from '../store/index';
import { passwordContext } from '../store/instances';
import { monitorContext, replContext } from '../store/clusters';

// The key that seals admin passwords lives in its own file (0600), never in the database: a copy
// of berth.db alone gives no password. Rotation writes <file>.new first, re-seals every row in
// one transaction, then renames; a crash in between leaves both files, and the next start
// opens rows of either key and finishes the job.

function readKey(file: string): SecretKey {
  const j = JSON.parse(fs.readFileSync(file, 'utf8')) as { id?: string; key?: string };
  if (!j.id || !j.key) throw new Error(`${file} is not a berth secret key file`);
  return { id: j.id, key: Buffer.from(j.key, 'base64') };
}

function writeKey(file: string, k: SecretKey): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, JSON.stringify({ id: k.id, key: k.key.toString('base64') }) + '\n', { mode: 0o600, flag: 'wx' });
}

// Seals every row not yet sealed with the current key (plain rows from before encryption, rows
// of an older key). Returns how many rows changed.
export function sealAll(store: Store, box: SecretBox): number {
  return store.tx(() => {
    let n = 0;
    // v1 values (not bound to their row) count as not sealed with the current key: re-sealed.
    const reseal = (sealed: string, context: string) => (box.sealedWithCurrent(sealed) ? sealed : box.seal(isSealed(sealed) ? box.open(sealed, context) : sealed, context));
    for (const { id, sealed } of store.instances.storedPasswords()) {
      if (box.sealedWithCurrent(sealed)) continue;
      store.instances.setStoredPassword(id, reseal(sealed, passwordContext(id)));
      n++;
    }
    for (const c of store.clusters.storedSecrets()) {
      if (box.sealedWithCurrent(c.repl) && box.sealedWithCurrent(c.monitor)) continue;
      store.clusters.setStoredSecrets(c.name, reseal(c.repl, replContext(c.name)), reseal(c.monitor, monitorContext(c.name)));
      n++;
    }
    return n;
  });
}

// Loads (or on first start creates) the key, finishes an interrupted rotation, rotates when
// asked, and seals what is not sealed yet.
export function openSecrets(store: Store, file: string, rotate = false): { box: SecretBox; sealed: number; rotated: boolean } {
  store.secureDelete();
  if (!fs.existsSync(file)) writeKey(file, newKey());
  const pending = `${file}.new`;
  let current = readKey(file);
  const older: SecretKey[] = [];
  if (rotate && !fs.existsSync(pending)) writeKey(pending, newKey());
  const rotating = fs.existsSync(pending);
  if (rotating) {
    older.push(current);
    current = readKey(pending);
  }
  const box = new SecretBox(current, older);
  const sealed = sealAll(store, box);
  if (rotating) fs.renameSync(pending, file);
  store.instances.useSecrets(box);
  store.clusters.useSecrets(box);
  return { box, sealed, rotated: rotating };
}
