import { describe, expect, it } from 'vitest';
import { checkFrontends, closedFrontends, renderConfig, runtimeCommands, shapeOf, type RouterFrontend } from './config';
import { parseShowStat } from './stats';

const rw = (host: string, port: number, ready = true): RouterFrontend => ({ name: 'c-rw', port: 4651, servers: [{ name: 's0', host, port, ready, backup: false }] });

describe('router config', () => {
  it('moves a server out first (maint, sessions shut), then points it and opens it', () => {
    expect(runtimeCommands([rw('127.0.0.51', 3651)], [rw('127.0.0.52', 3652)])).toEqual([
      'set server c-rw/s0 state maint',
      'shutdown sessions server c-rw/s0',
      'set server c-rw/s0 addr 127.0.0.52 port 3652',
      'set server c-rw/s0 state ready',
    ]);
  });

  it('closing shuts the sessions and opens nothing; the same state sends nothing', () => {
    expect(runtimeCommands([rw('127.0.0.51', 3651)], [rw('127.0.0.51', 3651, false)])).toEqual(['set server c-rw/s0 state maint', 'shutdown sessions server c-rw/s0']);
    expect(runtimeCommands([rw('127.0.0.51', 3651)], [rw('127.0.0.51', 3651)])).toEqual([]);
    expect(closedFrontends([rw('127.0.0.51', 3651)])[0]!.servers[0]!.ready).toBe(false);
  });

  it('a reload only for a change of frontends or server names, not of addresses', () => {
    expect(shapeOf([rw('127.0.0.51', 3651)])).toBe(shapeOf([rw('127.0.0.52', 3699, false)]));
    expect(shapeOf([rw('127.0.0.51', 3651)])).not.toBe(shapeOf([{ ...rw('127.0.0.51', 3651), port: 4652 }]));
  });

  it('renders the current state, maintenance as disabled, backups marked', () => {
    const f: RouterFrontend = { name: 'c-ro', port: 4652, servers: [{ name: 'r0', host: '127.0.0.1', port: 1, ready: false, backup: false }, { name: 'p', host: '127.0.0.51', port: 3651, ready: true, backup: true }] };
    const cfg = renderConfig('127.0.0.51', [f], { socket: '/s', pidFile: '/p' });
    expect(cfg).toContain('bind 127.0.0.51:4652');
    expect(cfg).toContain('server r0 127.0.0.1:1 disabled');
    expect(cfg).toContain('server p 127.0.0.51:3651 backup\n');
  });

  it('refuses names and addresses that could change the config or a socket command', () => {
    expect(checkFrontends([{ ...rw('127.0.0.51', 3651), name: 'x\nbackend y' }])).toMatch(/not \[a-z0-9-\]/);
    expect(checkFrontends([rw('127.0.0.51 ; show', 3651)])).toMatch(/no IPv4/);
    expect(checkFrontends([rw('127.0.0.51', 3651), rw('127.0.0.52', 3651)])).toMatch(/twice/);
    expect(checkFrontends([rw('127.0.0.51', 3651)])).toBeUndefined();
    // The longest cluster name (63) makes the longest frontend name, its second router's.
    expect(checkFrontends([{ ...rw('127.0.0.51', 3651), name: `c-${'a'.repeat(63)}-rw-2` }])).toBeUndefined();
    expect(checkFrontends([{ ...rw('127.0.0.51', 3651), name: 'a'.repeat(81) }])).toMatch(/at most 80/);
  });

  it('reads show stat per frontend: sessions, bytes, servers taking connections', () => {
    const csv = '# pxname,svname,scur,stot,bin,bout,ereq,econ,eresp,status\nf,FRONTEND,2,7,10,20,1,,,OPEN\nf,s0,2,7,10,20,,0,0,no check\nf,s1,0,0,0,0,,0,0,MAINT\nf,BACKEND,2,7,10,20,,3,0,UP\n';
    expect(parseShowStat(csv)).toEqual([{ name: 'f', status: 'OPEN', currentSessions: 2, totalSessions: 7, bytesIn: 10, bytesOut: 20, errors: 4, serversReady: 1 }]);
  });
});
