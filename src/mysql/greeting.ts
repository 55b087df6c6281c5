import net from 'node:net';

const CLIENT_SSL = 0x0800;

// Whether a server's greeting (the first packet of the MySQL protocol, protocol version 10)
// offers TLS: the CLIENT_SSL capability. Undefined when the bytes are not a whole greeting yet or
// not a greeting at all (an error packet). Same layout for MySQL and MariaDB.
export function greetingOffersTls(b: Buffer): boolean | undefined {
  if (b.length < 5 || b[3] !== 0 || b[4] !== 10) return undefined;
  const end = b.indexOf(0, 5);
  // version string, NUL, connection id (4), auth data part 1 (8), filler (1), capabilities (2)
  const caps = end + 1 + 4 + 8 + 1;
  if (end < 0 || b.length < caps + 2) return undefined;
  return (b.readUInt16LE(caps) & CLIENT_SSL) !== 0;
}

// Asks a server over TCP whether it offers TLS; no credentials, closed after the greeting.
// Undefined when it does not answer with a greeting in time.
export function offersTls(host: string, port: number, timeoutMs = 2000): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    let done = false;
    const sock = net.connect({ host, port });
    const finish = (v: boolean | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    sock.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      const v = greetingOffersTls(got);
      if (v !== undefined || got.length > 1024) finish(v);
    });
    sock.once('error', () => finish(undefined));
    sock.once('close', () => finish(undefined));
  });
}
