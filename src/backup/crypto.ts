import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

// Encryption at rest of backup objects: AES-256-GCM over segments, so a stream of any length is
// encrypted and decrypted with bounded memory, and no byte of plaintext is released before the
// tag of its segment verified (one GCM tag over a whole stream would release plaintext long
// before the end says whether it was altered).
//
//   header:  "BERTHBK1" (8) | nonce prefix (8)
//   segment: length of ciphertext (4, big-endian) | ciphertext | tag (16)
//
// Segment i's nonce is prefix || i (4 bytes, big-endian); its additional data is the object's
// name, i and whether it is the last segment, so segments cannot be reordered, moved to another
// object, dropped from the end or appended to. An empty object still has one (empty) last segment.
export const MAGIC = Buffer.from('BERTHBK1');
export const SEGMENT_BYTES = 1024 * 1024;
const TAG = 16;
const HEADER = 16;

const aad = (object: string, index: number, last: boolean) => Buffer.from(`${object}\u0000${index}\u0000${last ? 'last' : 'more'}`);

function nonce(prefix: Buffer, index: number): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0);
  n.writeUInt32BE(index, 8);
  return n;
}

function checkKey(key: Buffer): void {
  if (key.length !== 32) throw new Error(`a backup data key is 32 bytes, not ${key.length}`);
}

// Plaintext in, the encrypted object out. Holds back one segment so the last can be marked.
export class EncryptStream extends Transform {
  private readonly prefix = randomBytes(8);
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private index = 0;
  private started = false;

  constructor(
    private readonly key: Buffer,
    private readonly object: string,
    private readonly segmentBytes = SEGMENT_BYTES,
  ) {
    super();
    checkKey(key);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (!this.started) {
      this.push(Buffer.concat([MAGIC, this.prefix]));
      this.started = true;
    }
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    // Keep at least one byte back: the segment that ends the stream must be the one marked last.
    while (this.pendingBytes > this.segmentBytes) {
      const all = Buffer.concat(this.pending, this.pendingBytes);
      this.push(this.seal(all.subarray(0, this.segmentBytes), false));
      const rest = all.subarray(this.segmentBytes);
      this.pending = [rest];
      this.pendingBytes = rest.length;
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (!this.started) this.push(Buffer.concat([MAGIC, this.prefix]));
    this.push(this.seal(Buffer.concat(this.pending, this.pendingBytes), true));
    cb();
  }

  private seal(plain: Buffer, last: boolean): Buffer {
    const c = createCipheriv('aes-256-gcm', this.key, nonce(this.prefix, this.index), { authTagLength: TAG });
    c.setAAD(aad(this.object, this.index, last));
    this.index++;
    const ct = Buffer.concat([c.update(plain), c.final()]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(ct.length);
    return Buffer.concat([len, ct, c.getAuthTag()]);
  }
}

// The encrypted object in, plaintext out; any altered, missing or extra byte is an error.
export class DecryptStream extends Transform {
  private buf: Buffer = Buffer.alloc(0);
  private prefix?: Buffer;
  private index = 0;
  private ended = false;

  constructor(
    private readonly key: Buffer,
    private readonly object: string,
    private readonly maxSegment = 64 * SEGMENT_BYTES,
  ) {
    super();
    checkKey(key);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    try {
      this.drain(false);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: TransformCallback): void {
    try {
      this.drain(true);
      if (!this.ended) throw new Error(`backup object ${this.object} is cut short: its last segment is missing`);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  private drain(atEnd: boolean): void {
    if (!this.prefix) {
      if (this.buf.length < HEADER) return;
      if (!this.buf.subarray(0, 8).equals(MAGIC)) throw new Error(`backup object ${this.object} is not an encrypted berth backup object`);
      this.prefix = Buffer.from(this.buf.subarray(8, HEADER));
      this.buf = this.buf.subarray(HEADER);
    }
    while (this.buf.length >= 4) {
      if (this.ended) throw new Error(`backup object ${this.object} has bytes after its last segment`);
      const len = this.buf.readUInt32BE(0);
      if (len > this.maxSegment) throw new Error(`backup object ${this.object}: segment ${this.index} claims ${len} bytes; refused`);
      if (this.buf.length < 4 + len + TAG) return;
      // Only at the end is a segment known to be the last one: hold the final one back until then.
      const rest = this.buf.length - (4 + len + TAG);
      if (!atEnd && rest === 0) return;
      const ct = this.buf.subarray(4, 4 + len);
      const tag = this.buf.subarray(4 + len, 4 + len + TAG);
      this.buf = this.buf.subarray(4 + len + TAG);
      const last = atEnd && rest === 0;
      this.push(this.open(ct, tag, last));
      this.index++;
      if (last) this.ended = true;
    }
    if (atEnd && this.buf.length > 0) throw new Error(`backup object ${this.object} ends inside a segment (cut short)`);
  }

  private open(ct: Buffer, tag: Buffer, last: boolean): Buffer {
    const d = createDecipheriv('aes-256-gcm', this.key, nonce(this.prefix!, this.index), { authTagLength: TAG });
    d.setAAD(aad(this.object, this.index, last));
    d.setAuthTag(tag);
    try {
      return Buffer.concat([d.update(ct), d.final()]);
    } catch {
      throw new Error(`backup object ${this.object}: segment ${this.index} does not authenticate (altered, reordered, cut short or not this backup's)`);
    }
  }
}

// Counts and hashes what passes through.
export class HashStream extends Transform {
  private readonly h = createHash('sha256');
  bytes = 0;
  private result = '';

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.h.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }

  get sha256(): string {
    if (!this.result) this.result = this.h.digest('hex');
    return this.result;
  }
}

// Limits the bytes per second that pass (0: unlimited), by waiting before passing a chunk on
// once it is ahead of the rate; backpressure then slows whatever writes into it.
export class RateLimit extends Transform {
  private readonly t0 = Date.now();
  private passed = 0;

  constructor(private readonly bytesPerSecond: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.passed += chunk.length;
    const due = this.bytesPerSecond > 0 ? this.t0 + (this.passed / this.bytesPerSecond) * 1000 - Date.now() : 0;
    if (due > 0) setTimeout(() => cb(null, chunk), due);
    else cb(null, chunk);
  }
}
