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
