import net from 'node:net';

// A TCP forwarder listening on a simulated host's own address: an agent that dials the manager
// through it can be cut off by a partition of that address (see partition.ts). Bytes pass
// through untouched (TLS stays end to end).
// `target` is read at each connection (the manager's port is known only once it starts).
export async function startForwarder(listenHost: string, target: () => { host: string; port: number }): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const t = target();
    const upstream = net.connect(t.port, t.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, listenHost, () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
