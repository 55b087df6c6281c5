import net from 'node:net';
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { listeningPorts, probeDisk } from './host';

describe('host probes', () => {
  it('sees a port something listens on, and only inside the range asked for', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    try {
      expect(await listeningPorts(port, port)).toEqual([port]);
      expect(await listeningPorts(port + 1, port + 1)).not.toContain(port);
    } finally {
      await new Promise((r) => server.close(r));
    }
    expect(await listeningPorts(port, port)).toEqual([]);
  });

  it('reads size and free space of a data disk', async () => {
    const d = await probeDisk(os.tmpdir());
    expect(d.totalBytes).toBeGreaterThan(0);
    expect(d.freeBytes).toBeGreaterThan(0);
    expect(d.freeBytes).toBeLessThanOrEqual(d.totalBytes);
  });
});
