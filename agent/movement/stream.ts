import { Transform, type TransformCallback } from 'node:stream';

// Docker's multiplexed attach/exec stream (8-byte frame headers: stream type, 0, 0, 0, size)
// split into stdout, passed on with backpressure, and stderr, of which the tail is kept for
// error messages.
export class Demux extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  stderr = '';

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const payload = this.pending.subarray(8, 8 + size);
      if (this.pending[0] === 2) this.stderr = (this.stderr + payload.toString('utf8')).slice(-4000);
      else this.push(payload);
      this.pending = this.pending.subarray(8 + size);
    }
    cb();
  }
}

// Gathers small reads into messages of about `size` bytes: fewer, larger gRPC messages.
export async function* batched(source: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let n = 0;
  for await (const chunk of source) {
    parts.push(chunk);
    n += chunk.length;
    if (n >= size) {
      yield Buffer.concat(parts, n);
      parts = [];
      n = 0;
    }
  }
  if (n > 0) yield Buffer.concat(parts, n);
}

// Reads a file (a FIFO) into buffers of `size` bytes, each filled by as many reads as it takes.
// A FIFO gives at most its pipe's 64 KiB a read, and a read stream allocates its whole
// highWaterMark for every read: 1 MiB for each 64 KiB made garbage collection about 40% of the
// source agent's time. Here one buffer a message, no concatenation.
export async function* fillChunks(fh: { read(buf: Buffer, offset: number, length: number, position: null): Promise<{ bytesRead: number }> }, size: number): AsyncGenerator<Buffer> {
  for (;;) {
    const buf = Buffer.allocUnsafeSlow(size);
    let n = 0;
    while (n < size) {
      const { bytesRead } = await fh.read(buf, n, size - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    if (n > 0) yield n === size ? buf : buf.subarray(0, n);
    if (n < size) return;
  }
}
