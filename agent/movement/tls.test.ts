import { describe, expect, it } from 'vitest';
import { TLS_IN_CONTAINER } from '../instance/mycnf';
import { requireSslFor, tlsTowards } from './tls';

describe('TLS towards a replication source or CLONE donor', () => {
  const probe = (v: boolean | undefined) => async () => v;

  it('with the fleet CA and a source that offers TLS (or cannot say now): TLS, verified with the CA', async () => {
    expect(await tlsTowards({ tls: { required: true } }, 'h', 1, probe(true))).toEqual({ ca: TLS_IN_CONTAINER.ca });
    expect(await tlsTowards({ tls: { required: false } }, 'h', 1, probe(undefined))).toEqual({ ca: TLS_IN_CONTAINER.ca });
  });

  it('no TLS when this node has no MySQL certificate, or the source offers none', async () => {
    expect(await tlsTowards({}, 'h', 1, probe(true))).toBeUndefined();
    expect(await tlsTowards({ tls: { required: false } }, 'h', 1, probe(false))).toBeUndefined();
  });

  it('accounts require SSL only on servers that require TLS', () => {
    expect([requireSslFor({ tls: { required: true } }), requireSslFor({ tls: { required: false } }), requireSslFor({})]).toEqual([true, false, false]);
  });
});
