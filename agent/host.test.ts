import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { listeningPorts, probeDisk } from './host';

describe('host probes', () => {
  it('sees a port something listens on, and only inside the range asked for', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    // A connected client's own port is in use but nobody listens on it: not busy for the scheduler's purposes.
    const client = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => client.once('connect', () => r()));
    const clientPort = client.localPort!;
    try {
      expect(await listeningPorts(clientPort, clientPort)).toEqual([]);
      expect(await listeningPorts(port, port)).toEqual([port]);
      expect(await listeningPorts(port - 5, port + 5)).toContain(port);
      expect(await listeningPorts(port + 1, 65535)).not.toContain(port);
      expect(await listeningPorts(1, port - 1)).not.toContain(port);
    } finally {
      client.destroy();
      await new Promise((r) => server.close(r));
    }
    expect(await listeningPorts(port, port)).toEqual([]);
  });

  it('reads size and free space of a data disk', async () => {
    const st = fs.statfsSync(os.tmpdir());
    const d = await probeDisk(os.tmpdir());
    expect(d.path).toBe(os.tmpdir());
    expect(d.totalBytes).toBe(st.blocks * st.bsize);
    // What an unprivileged writer may use (bavail), not the root reserve; other writers on this
    // disk may move it a little between the two reads.
    expect(Math.abs(d.freeBytes - st.bavail * st.bsize)).toBeLessThan(256 * 1024 ** 2);
    expect(d.freeBytes).toBeLessThanOrEqual(d.totalBytes);
  });
});
