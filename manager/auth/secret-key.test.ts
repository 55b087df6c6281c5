import { createCipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Store } from '../store/index';
import { openSecrets } from './secret-key';

const G = 1024 ** 3;
const PW = 'Zq7-very-secret-password-9x';

function fleet(file: string) {
  const store = Store.open(file);
  store.nodes.register({
    name: 'n1', agentAddress: '127.0.0.1:1', host: '127.0.0.1', labels: {}, cpuMillis: 4000, memoryBytes: 8 * G,
    portMin: 3301, portMax: 3302, busyPorts: [], agentVersion: 'x', dockerVersion: 'y', lastHeartbeatMs: 1, disks: [{ path: '/d', totalBytes: 10 * G, freeBytes: 9 * G }],
  });
  return store;
}
const inst = (id: string, port: number) => ({ id, name: id, serverId: port, node: 'n1', diskPath: '/d', port, cpuMillis: 1000, memoryBytes: G, diskBytes: G, image: 'img', state: 'pending' as const, adminUser: 'admin', adminPassword: PW });

// Every byte SQLite wrote (database, WAL, shared memory) holds no plain password.
function filesHold(dir: string, s: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.startsWith('berth.db') && fs.readFileSync(path.join(dir, f)).includes(s));
}

describe('admin passwords sealed at rest', () => {
  it('opens a row password only when it is read; copies of the row carry it in plain', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-secrets-'));
    const store = fleet(path.join(dir, 'berth.db'));
    const { box } = openSecrets(store, path.join(dir, 'keys', 'secret.key'));
    store.instances.insert(inst('i-1', 3301));
    let opened = 0;
    const open = box.open.bind(box);
    box.open = (s: string, c: string) => (opened++, open(s, c));
    const rows = [...store.instances.all(), ...store.instances.onNode('n1'), store.instances.get('i-1')!];
    expect(rows.map((r) => r.state)).toEqual(['pending', 'pending', 'pending']);
    expect(opened).toBe(0);
    expect(rows[2]!.adminPassword).toBe(PW);
    expect(rows[2]!.adminPassword).toBe(PW);
    expect(opened).toBe(1);
    expect({ ...rows[0]! }.adminPassword).toBe(PW);
    expect(JSON.parse(JSON.stringify(rows[1]))).toMatchObject({ id: 'i-1', adminPassword: PW });
    store.close();
  });

  it('seals rows written before encryption (migration), new rows, and opens them for the API', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-secrets-'));
    const db = path.join(dir, 'berth.db');
    const key = path.join(dir, 'keys', 'secret.key');
    let store = fleet(db);
    store.instances.insert(inst('i-old', 3301)); // before encryption existed
    store.close();

    store = Store.open(db);
    const first = openSecrets(store, key);
    expect(first.sealed).toBe(1);
    expect(fs.statSync(key).mode & 0o777).toBe(0o600);
    store.instances.insert(inst('i-new', 3302));
    expect(store.instances.storedPasswords().every((r) => r.sealed.startsWith(`enc:v2:${first.box.keyId}:`))).toBe(true);
    expect(store.instances.get('i-old')!.adminPassword).toBe(PW);
    expect(store.instances.find('i-new')!.adminPassword).toBe(PW);
    store.db.pragma('wal_checkpoint(TRUNCATE)');
    expect(filesHold(dir, PW)).toEqual([]);
    store.close();

    // Rotation: a new key, every row re-sealed, still readable; the old key is gone.
    store = Store.open(db);
    const rotated = openSecrets(store, key, true);
    expect(rotated).toMatchObject({ rotated: true, sealed: 2 });
    expect(rotated.box.keyId).not.toBe(first.box.keyId);
    expect(fs.existsSync(`${key}.new`)).toBe(false);
    expect(store.instances.all().map((i) => i.adminPassword)).toEqual([PW, PW]);
    store.close();

    // The database without its key file opens nothing.
    store = Store.open(db);
    expect(() => openSecrets(store, path.join(dir, 'other.key'))).toThrow(/does not hold/);
    store.close();
    fs.rmSync(dir, { recursive: true });
  });

  it('finishes a rotation interrupted after the new key file was written', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-secrets-'));
    const key = path.join(dir, 'secret.key');
    let store = fleet(path.join(dir, 'berth.db'));
    openSecrets(store, key);
    store.instances.insert(inst('i-1', 3301));
    store.close();
    // Crash simulation: a .new key exists, rows still sealed with the old one.
    fs.copyFileSync(key, path.join(dir, 'old.key'));
    store = Store.open(path.join(dir, 'berth.db'));
    const r1 = openSecrets(store, key, true);
    store.close();
    fs.writeFileSync(`${key}.new`, fs.readFileSync(key));
    fs.copyFileSync(path.join(dir, 'old.key'), key);
    store = Store.open(path.join(dir, 'berth.db'));
    const r2 = openSecrets(store, key);
    expect(r2.rotated).toBe(true);
    expect(r2.box.keyId).toBe(r1.box.keyId);
    expect(store.instances.get('i-1')!.adminPassword).toBe(PW);
    store.close();
    fs.rmSync(dir, { recursive: true });
  });

  it('binds each sealed password to its row: moved to another row it does not open; v1 rows are re-sealed as v2', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-secrets-'));
    const db = path.join(dir, 'berth.db');
    const key = path.join(dir, 'secret.key');
    let store = fleet(db);
    const { box } = openSecrets(store, key);
    store.instances.insert(inst('i-a', 3301));
    store.instances.insert({ ...inst('i-b', 3302), adminPassword: 'the-other-one' });
    // Someone with write access to the file copies i-a's sealed password into i-b's row.
    const sealedA = store.instances.storedPasswords().find((r) => r.id === 'i-a')!.sealed;
    store.instances.setStoredPassword('i-b', sealedA);
    expect(() => store.instances.get('i-b')!.adminPassword).toThrow(/does not open/);
    expect(store.instances.get('i-a')!.adminPassword).toBe(PW);
    // A row sealed the v1 way (additional data: the key id only) from before this change: it
    // opens, and the next start re-seals it bound to its row.
    const v1 = sealV1(box.keyId, fs.readFileSync(key, 'utf8'), 'old-pw');
    store.instances.setStoredPassword('i-b', v1);
    expect(store.instances.get('i-b')!.adminPassword).toBe('old-pw');
    store.close();
    store = Store.open(db);
    expect(openSecrets(store, key).sealed).toBe(1);
    expect(store.instances.storedPasswords().find((r) => r.id === 'i-b')!.sealed).toMatch(/^enc:v2:/);
    expect(store.instances.get('i-b')!.adminPassword).toBe('old-pw');
    store.close();
    fs.rmSync(dir, { recursive: true });
  });
});

// The v1 format as the previous release wrote it.
function sealV1(keyId: string, keyFile: string, plain: string): string {
  const key = Buffer.from((JSON.parse(keyFile) as { key: string }).key, 'base64');
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  c.setAAD(Buffer.from(keyId));
  const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
  return `enc:v1:${keyId}:${iv.toString('base64url')}:${c.getAuthTag().toString('base64url')}:${ct.toString('base64url')}`;
}
