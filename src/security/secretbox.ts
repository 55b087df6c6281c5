import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

// AES-256-GCM for secrets at rest (instance admin passwords in SQLite). A sealed value names the
// key that sealed it, so a key rotation interrupted half-way still opens every row.
//   enc:v1:<key id>:<iv>:<tag>:<ciphertext>   (base64url parts)
const PREFIX = 'enc:v1:';

export interface SecretKey {
  id: string;
  key: Buffer;
}

export function newKey(): SecretKey {
  return { id: `k${randomBytes(4).toString('hex')}`, key: randomBytes(32) };
}

export const isSealed = (v: string) => v.startsWith(PREFIX);

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

  seal(plain: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.current.key, iv);
    c.setAAD(Buffer.from(this.current.id));
    const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
    return `${PREFIX}${this.current.id}:${iv.toString('base64url')}:${c.getAuthTag().toString('base64url')}:${ct.toString('base64url')}`;
  }

  // Plain text (rows written before encryption) passes through; the migration seals it.
  open(value: string): string {
    if (!isSealed(value)) return value;
    const [id, iv, tag, ct] = value.slice(PREFIX.length).split(':');
    const key = this.keys.get(id ?? '');
    if (!key || !iv || !tag || ct === undefined) throw new Error(`a secret in the store was sealed with key ${id}, which the key file does not hold`);
    const d = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
    d.setAAD(Buffer.from(id!));
    d.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]).toString('utf8');
  }

  sealedWithCurrent(value: string): boolean {
    return value.startsWith(`${PREFIX}${this.current.id}:`);
  }
}
