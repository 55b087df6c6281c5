import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

// AES-256-GCM for secrets at rest (instance admin passwords in SQLite). A sealed value names the
// key that sealed it, so a key rotation interrupted half-way still opens every row.
//   enc:v2:<key id>:<iv>:<tag>:<ciphertext>   (base64url parts)
// v2 binds each value to where it belongs: the additional data is the version, the key id and
// the value's context (table, column and row, e.g. "instances.admin_password:i-…"), so a value
// copied into another row (an attacker with write access to the file moving a password they can
// read to a row they cannot, or the other way round) no longer opens. Tags must be the full 16
// bytes: GCM accepts shorter ones, which make forgeries cheaper.
// v1 (additional data: the key id only) is still opened, so a store written before v2 starts;
// the start-up sealing (manager/auth/secret-key.ts) re-seals such rows as v2.
const V1 = 'enc:v1:';
const V2 = 'enc:v2:';
const TAG_BYTES = 16;
const IV_BYTES = 12;

export interface SecretKey {
  id: string;
  key: Buffer;
}

export function newKey(): SecretKey {
  return { id: `k${randomBytes(4).toString('hex')}`, key: randomBytes(32) };
}

export const isSealed = (v: string) => v.startsWith(V1) || v.startsWith(V2);

// Where a sealed value lives: "<table>.<column>:<row key>".
export const secretContext = (table: string, column: string, row: string) => `${table}.${column}:${row}`;

const aadV2 = (keyId: string, context: string) => Buffer.from(`${V2}${keyId}\u0000${context}`);

export class SecretBox {
  private readonly keys = new Map<string, Buffer>();

  // The first key seals; all of them open.
  constructor(
    private readonly current: SecretKey,
    others: SecretKey[] = [],
  ) {
    for (const k of [current, ...others]) {
      if (k.key.length !== 32) throw new Error(`secret key ${k.id} is not 32 bytes`);
      this.keys.set(k.id, k.key);
    }
  }

  get keyId(): string {
    return this.current.id;
  }

  seal(plain: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const c = createCipheriv('aes-256-gcm', this.current.key, iv, { authTagLength: TAG_BYTES });
    c.setAAD(aadV2(this.current.id, context));
    const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return `${V2}${this.current.id}:${iv.toString('base64url')}:${c.getAuthTag().toString('base64url')}:${ct.toString('base64url')}`;
  }

  // Plain text (rows written before encryption) passes through; the start-up sealing seals it.
  open(value: string, context: string): string {
    if (!isSealed(value)) return value;
    const v2 = value.startsWith(V2);
    const [id, iv, tag, ct] = value.slice(V2.length).split(':');
    const key = this.keys.get(id ?? '');
    if (!key || !iv || !tag || ct === undefined) throw new Error(`a secret in the store was sealed with key ${id}, which the key file does not hold`);
    const tagBytes = Buffer.from(tag, 'base64url');
    const ivBytes = Buffer.from(iv, 'base64url');
    if (tagBytes.length !== TAG_BYTES || ivBytes.length !== IV_BYTES) throw new Error(`a sealed secret (${context}) has a ${tagBytes.length}-byte tag or a ${ivBytes.length}-byte IV; refused`);
    const d = createDecipheriv('aes-256-gcm', key, ivBytes, { authTagLength: TAG_BYTES });
    d.setAAD(v2 ? aadV2(id!, context) : Buffer.from(id!));
    d.setAuthTag(tagBytes);
    try {
      return Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]).toString('utf8');
    } catch {
      throw new Error(`the sealed secret ${context} does not open: altered, or sealed for another row`);
    }
  }

  // Sealed the current way (v2) with the current key: nothing to re-seal.
  sealedWithCurrent(value: string): boolean {
    return value.startsWith(`${V2}${this.current.id}:`);
  }
}
