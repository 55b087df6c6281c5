import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTokenFile } from '../../src/security/admin-token-file';
import { Store } from '../store/index';
import { chooseAdminToken, syncAdminTokenRow } from './admin-token';
import { TokensTable } from '../store/tokens';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'berth-admintoken-'));

describe('the admin HTTP token', () => {
  it('is made once (0600, in the state directory) and read back on later starts', () => {
    const dir = tmp();
    const first = chooseAdminToken({ stateDir: dir, unauthenticated: false });
    expect(first.source).toBe('generated');
    expect(first.token).toMatch(/^berth_[A-Za-z0-9_-]{43}$/);
    expect(fs.statSync(first.file).mode & 0o777).toBe(0o600);
    const again = chooseAdminToken({ stateDir: dir, unauthenticated: false });
    expect(again).toEqual({ ...first, source: 'file' });
    // An explicit one wins (and the file stays as it was); --admin-unauthenticated has none.
    expect(chooseAdminToken({ flag: 'mine', stateDir: dir, unauthenticated: false })).toMatchObject({ token: 'mine', source: 'flag' });
    expect(chooseAdminToken({ stateDir: dir, unauthenticated: true })).toEqual({ source: 'none', file: first.file });
    expect(readTokenFile(first.file)).toBe(first.token);
  });

  it('refuses a token file others can read', () => {
    const dir = tmp();
    const f = path.join(dir, 'admin-token');
    fs.writeFileSync(f, 'berth_x\n', { mode: 0o644 });
    fs.chmodSync(f, 0o644);
    expect(() => chooseAdminToken({ stateDir: dir, unauthenticated: false })).toThrow(/readable by other users/);
  });

  // Issue 26, row 4: a token taken out of the configuration kept working on the portal.
  it('its portal row follows the configuration: re-keyed when it changes, removed when there is none', () => {
    const dir = tmp();
    const store = Store.open(path.join(dir, 'berth.db'));
    const tokens = store.tokens;
    syncAdminTokenRow(tokens, 'old-admin-token');
    expect(tokens.verify('old-admin-token')).toMatchObject({ name: 'admin-token', role: 'admin' });
    syncAdminTokenRow(tokens, 'new-admin-token');
    expect(tokens.verify('old-admin-token')).toBeUndefined();
    expect(tokens.verify('new-admin-token')?.role).toBe('admin');
    syncAdminTokenRow(tokens, undefined);
    expect(tokens.verify('new-admin-token')).toBeUndefined();
    expect(tokens.list()).toEqual([]);
    store.close();
  });
});
