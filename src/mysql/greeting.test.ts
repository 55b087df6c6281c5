import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { greetingOffersTls, offersTls } from './greeting';

// A protocol-10 greeting as servers send it, with the given capability flags.
function greeting(caps: number, version = '10.11.9-MariaDB'): Buffer {
  const body = Buffer.concat([Buffer.from([10]), Buffer.from(version + '\0'), Buffer.from([1, 0, 0, 0]), Buffer.from('abcdefgh'), Buffer.from([0]), Buffer.from([caps & 0xff, caps >> 8]), Buffer.alloc(20)]);
  const head = Buffer.from([body.length & 0xff, (body.length >> 8) & 0xff, 0, 0]);
  return Buffer.concat([head, body]);
}

describe('MySQL greeting: does the server offer TLS', () => {
  it('reads CLIENT_SSL from the capability flags', () => {
    expect(greetingOffersTls(greeting(0xffff))).toBe(true);
    expect(greetingOffersTls(greeting(0xf7ff))).toBe(false);
    // Not all there yet, an error packet, garbage.
    expect(greetingOffersTls(greeting(0xffff).subarray(0, 20))).toBeUndefined();
    expect(greetingOffersTls(Buffer.from([5, 0, 0, 0, 0xff, 0x10, 0x04]))).toBeUndefined();
    expect(greetingOffersTls(Buffer.from('HTTP/1.1 400'))).toBeUndefined();
  });

  it('asks a server over TCP, the greeting split across packets; a silent or closed port is unknown', async () => {
    const g = greeting(0x0800);
    const server = net.createServer((s) => {
      s.write(g.subarray(0, 9));
      setImmediate(() => s.write(g.subarray(9)));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    expect(await offersTls('127.0.0.1', port)).toBe(true);
    const silent = net.createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    expect(await offersTls('127.0.0.1', (silent.address() as net.AddressInfo).port, 200)).toBeUndefined();
    server.close();
    silent.close();
    expect(await offersTls('127.0.0.1', port)).toBeUndefined();
  });
});
