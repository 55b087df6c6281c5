import net from 'node:net';

export interface ProbeResult {
  reachable: boolean;
  ms: number;
  error?: string;
}

// The manager's own look at a primary, independent of its agent: a TCP connection to mysqld
// that must bring the server's greeting (the first packet of the MySQL protocol) within the
// timeout. A hung server whose kernel still accepts connections sends no greeting and counts as
// unreachable. No credentials: the connection is closed after the greeting.
export function probeMysqld(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  const start = Date.now();
  return new Promise((resolve) => {
    let done = false;
    const sock = net.connect({ host, port });
    const finish = (reachable: boolean, error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ reachable, ms: Date.now() - start, ...(error ? { error } : {}) });
    };
    const timer = setTimeout(() => finish(false, `no greeting within ${timeoutMs} ms`), timeoutMs);
    sock.once('data', (b: Buffer) => finish(isGreeting(b), isGreeting(b) ? undefined : 'not a MySQL greeting'));
    sock.once('error', (err) => finish(false, err.message));
    sock.once('close', () => finish(false, 'closed before the greeting'));
  });
}

// A packet header (3-byte length, sequence 0), then protocol version 10 or an error packet
// (0xff: "too many connections", "host blocked": the server is alive).
function isGreeting(b: Buffer): boolean {
  return b.length >= 5 && b[3] === 0 && (b[4] === 10 || b[4] === 0xff);
}
