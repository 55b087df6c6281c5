import { describe, expect, it } from 'vitest';
import { canWrite, decideWriter, galeraFieldsFor, galeraMemberHealth, galeraPorts, isGaleraFlavor, type GaleraReport } from './galera';

const ok = (id: string, o: Partial<GaleraReport> = {}): GaleraReport => ({ id, live: true, state: 'Synced', role: 'Primary', online: 3, readOnly: true, ...o });

describe('Galera ports and settings', () => {
  it('puts group communication, IST and SST 1, 2 and 3 offsets above the instance port', () => {
    expect(galeraPorts(3301)).toEqual({ gcomm: 4301, ist: 5301, sst: 6301 });
    expect(galeraPorts(5101, 16)).toEqual({ gcomm: 5117, ist: 5133, sst: 5149 });
  });

  it('gives each member its own addresses, every peer, the cluster name, the SST account and one GTID domain', () => {
    const c = { name: 'ledger', replUser: 'berth_repl', replPassword: 'pw-123456789' };
    const ms = [{ host: '127.0.0.2', port: 3301, serverId: 12 }, { host: '127.0.0.3', port: 3302, serverId: 9 }, { host: '127.0.0.4', port: 3303, serverId: 15 }];
    const f = galeraFieldsFor(c, ms[1]!, ms, { offset: 1000, bootstrap: false });
    expect(f).toEqual({
      galeraClusterName: 'ledger', galeraAddress: '127.0.0.3:4302', galeraPeers: ['127.0.0.2:4301', '127.0.0.3:4302', '127.0.0.4:4303'],
      galeraIstAddress: '127.0.0.3:5302', galeraSstAddress: '127.0.0.3:6302', galeraIncomingAddress: '127.0.0.3:3302', galeraBootstrap: false,
      galeraSstUser: 'berth_repl', galeraSstPassword: 'pw-123456789', galeraGtidDomain: 9,
    });
    expect(galeraFieldsFor(c, ms[0]!, ms, { offset: 1000, bootstrap: true }).galeraBootstrap).toBe(true);
  });

  it('is Galera on MariaDB only', () => {
    expect(isGaleraFlavor('mariadb')).toBe(true);
    expect(isGaleraFlavor('mysql')).toBe(false);
    expect(isGaleraFlavor('')).toBe(false);
  });
});

describe('decideWriter', () => {
  it('keeps a writer that can write, and opens it when it is read-only (it restarted)', () => {
    expect(decideWriter('a', [ok('a', { readOnly: false }), ok('b'), ok('c')])).toEqual({ kind: 'keep' });
    expect(decideWriter('a', [ok('a'), ok('b'), ok('c')])).toEqual({ kind: 'open', id: 'a' });
  });

  it.each([
    ['dead (no live report)', { live: false }],
    ['outside the Primary component', { role: 'non-Primary', online: 0 }],
    ['not ready', { online: 0 }],
    ['not Synced', { state: 'Donor/Desynced' }],
  ])('replaces a writer that is %s with the first member that can write', (_, bad) => {
    expect(decideWriter('a', [ok('a', bad), ok('b', { state: 'Joined' }), ok('c', { online: 2 })])).toEqual({ kind: 'change', from: 'a', to: 'c' });
  });

  it('names nobody when no other member can write (no quorum: every survivor is non-Primary)', () => {
    const d = decideWriter('a', [ok('a', { live: false }), ok('b', { role: 'non-Primary', online: 0 }), ok('c', { role: 'non-Primary', online: 0 })]);
    expect(d.kind).toBe('none');
  });

  it('chooses a writer when the store names none', () => {
    expect(decideWriter(undefined, [ok('a', { live: false }), ok('b')])).toEqual({ kind: 'change', from: '', to: 'b' });
  });

  it('never takes a report of a dead server for a writer (the agent keeps its last state)', () => {
    expect(canWrite(ok('a', { live: false }))).toBe(false);
    expect(canWrite(undefined)).toBe(false);
  });
});

describe('galeraMemberHealth', () => {
  it('reads Synced in the Primary component as ok, transfers as lagging, outside it as broken', () => {
    expect(galeraMemberHealth({ state: 'Synced', role: 'Primary', ready: true }, 'running')).toBe('ok');
    expect(galeraMemberHealth({ state: 'Joined', role: 'Primary', ready: true }, 'running')).toBe('lagging');
    expect(galeraMemberHealth({ state: 'Synced', role: 'non-Primary', ready: false }, 'running')).toBe('broken');
    expect(galeraMemberHealth(undefined, 'running')).toBe('unreachable');
    expect(galeraMemberHealth(undefined, 'stopped')).toBe('down');
    expect(galeraMemberHealth(undefined, 'creating')).toBe('creating');
  });
});
