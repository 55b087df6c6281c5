import fs from 'node:fs/promises';
import path from 'node:path';
import { dialectFor, type Flavor } from '../../src/mysql/dialect';
import { DEFAULTS_FILE, DIRS, IN_CONTAINER, layoutFor, type Layout } from './layout';
import { renderMyCnf, type MyCnfInput } from './mycnf';
import { readTailNoFollow } from '../../src/security/nofollow';

// The instance's directories on the host: layout, my.cnf, initialization and removal. Template
// data directories (a later feature) belong here too.

export async function prepareDirs(layout: Layout): Promise<void> {
  for (const d of DIRS) await fs.mkdir(layout.dirs[d], { recursive: true, mode: 0o750 });
}

export async function writeMyCnf(layout: Layout, input: MyCnfInput): Promise<void> {
  await fs.writeFile(layout.mycnf, renderMyCnf(input), { mode: 0o644 });
  // Galera's state transfer (wsrep_sst_mariabackup and mariabackup, on donor and joiner) runs as
  // the container's mysql user and reads this file: conf must be traversable from inside, as
  // with TLS (installTls). The instance's root stays 0750 root on the host.
  if (input.group) await fs.chmod(layout.dirs.conf, 0o751);
}

// The node's MySQL certificate, its key and the fleet CA, copied into the instance's conf/tls
// (mounted read-only at /etc/berth). Readable by all inside: mysqld reads them after it has
// become the image's mysql user, whose uid the host does not know, so conf gets o+x to be
// traversed. The instance's root directory is 0750 root on the host: no other host user
// reaches them.
export async function installTls(layout: Layout, files: { ca: string; cert: string; key: string }): Promise<void> {
  const dir = path.join(layout.dirs.conf, 'tls');
  await fs.chmod(layout.dirs.conf, 0o751);
  await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  await fs.chmod(dir, 0o755);
  for (const [from, to] of [[files.ca, 'ca.pem'], [files.cert, 'server-cert.pem'], [files.key, 'server-key.pem']] as const) {
    await fs.copyFile(from, path.join(dir, to));
    await fs.chmod(path.join(dir, to), 0o644);
  }
}

// mysqld's system schema exists: the data directory was initialized.
export async function isInitialized(layout: Layout): Promise<boolean> {
  return exists(path.join(layout.dirs.data, 'mysql'));
}

// A half-initialized data directory must not be mistaken for a good one on retry.
export async function discardData(layout: Layout): Promise<void> {
  await fs.rm(layout.dirs.data, { recursive: true, force: true });
}

// Run inside a throwaway container of the instance's image with its mounts: hands the
// directories mysqld writes to its user, then creates the system tables.
export function initCommand(flavor: Flavor): string[] {
  const owners = DIRS.filter((d) => d !== 'conf').map((d) => IN_CONTAINER[d]).join(' ');
  return ['sh', '-c', `chown -R mysql:mysql ${owners} && ${dialectFor(flavor).initCommand(DEFAULTS_FILE)}`];
}

// Files can outlive their container (a create that failed before the container existed): look
// on every candidate disk. Answers where they went (empty: nothing was there). Nothing is
// deleted here: the directory moves (a rename, same file system) to the disk's trash,
// <disk>/berth/.trash/<id>-<ms>, which purgeTrash empties after the retention period, so a
// delete by mistake can be undone by moving it back.
export async function removeInstanceFiles(disks: readonly string[], id: string, now = Date.now()): Promise<string[]> {
  const moved: string[] = [];
  for (const disk of disks) {
    const root = layoutFor(disk, id).root;
    if (await exists(root)) {
      const trash = trashDir(disk);
      await fs.mkdir(trash, { recursive: true, mode: 0o700 });
      const to = path.join(trash, `${id}-${now}`);
      await fs.rename(root, to);
      moved.push(to);
    }
  }
  return moved;
}

// Deletes trashed directories at once (a purging remove). The move to the trash already took
// them out of the instance's place, so a delete that fails (an immutable file, say) leaves them
// to purgeTrash: it is reported, never thrown.
export async function deleteTrashed(entries: readonly string[]): Promise<{ deleted: string[]; failed: { path: string; err: string }[] }> {
  const deleted: string[] = [];
  const failed: { path: string; err: string }[] = [];
  for (const e of entries) {
    await fs.rm(e, { recursive: true, force: true }).then(
      () => deleted.push(e),
      (err: Error) => failed.push({ path: e, err: err.message }),
    );
  }
  return { deleted, failed };
}

export const trashDir = (disk: string) => path.join(disk, 'berth', '.trash');

// Deletes trashed instance directories older than `retentionMs`. Returns what it deleted.
export async function purgeTrash(disks: readonly string[], retentionMs: number, now = Date.now()): Promise<string[]> {
  const gone: string[] = [];
  for (const disk of disks) {
    const entries = await fs.readdir(trashDir(disk)).catch(() => [] as string[]);
    for (const e of entries) {
      const m = /-(\d{13})$/.exec(e);
      if (!m || now - Number(m[1]) < retentionMs) continue;
      await fs.rm(path.join(trashDir(disk), e), { recursive: true, force: true });
      gone.push(path.join(trashDir(disk), e));
    }
  }
  return gone;
}

export async function errorLogTail(layout: Layout): Promise<string> {
  // The container writes this directory: never follow a link it may have planted.
  const text = await readTailNoFollow(path.join(layout.dirs.log, 'error.log'));
  // A crash report buries the cause under its dump: the last errors first, then the tail.
  const errors = text.split('\n').filter((l) => /\[ERROR\]|WSREP_SST: \[ERROR\]|got signal/.test(l)).slice(-4);
  return [...(errors.length ? [`errors: ${errors.join(' | ').slice(0, 1200)}`] : []), tail(text)].join(' || ');
}

export async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}

export function tail(text: string, lines = 8): string {
  return text.trim().split('\n').slice(-lines).join(' | ').slice(0, 1500);
}
