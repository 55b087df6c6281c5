import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../src/log';
import type { TlsFiles } from '../../src/tls/credentials';
import { installTls } from './datadir';
import { layoutFor } from './layout';
import type { InstanceStatus } from './lifecycle';

const COPIES = { ca: 'ca.pem', cert: 'server-cert.pem', key: 'server-key.pem' } as const;

async function differs(files: TlsFiles, dir: string): Promise<boolean> {
  for (const [k, name] of Object.entries(COPIES) as [keyof typeof COPIES, string][]) {
    const [want, have] = await Promise.all([fs.readFile(files[k]), fs.readFile(path.join(dir, name)).catch(() => undefined)]);
    if (!have || !want.equals(have)) return true;
  }
  return false;
}

// A rotated MySQL certificate (certs issue --node N --force, copied to the host, the agent
// restarted) reaches the instances already running: each one whose conf/tls copy differs from
// the node's files gets the new files and has mysqld read them again (`reload`: the Dialect's
// ALTER INSTANCE RELOAD TLS or FLUSH SSL), without a restart. Instances that do not run now get
// the files and read them when they start. Returns the ids refreshed; a failure is logged and
// leaves that instance on its old certificate.
export async function refreshTls(list: readonly InstanceStatus[], files: TlsFiles, reload: (id: string) => Promise<void>, log: Logger): Promise<string[]> {
  const done: string[] = [];
  for (const i of list) {
    if (!i.tls) continue;
    const layout = layoutFor(i.diskPath, i.id);
    try {
      if (!(await differs(files, path.join(layout.dirs.conf, 'tls')))) continue;
      await installTls(layout, files);
      if (i.state === 'running') await reload(i.id);
      done.push(i.id);
      log.info({ instance: i.id, reloaded: i.state === 'running' }, 'MySQL certificate of the instance replaced by the node\'s current one');
    } catch (err) {
      log.warn({ instance: i.id, err: (err as Error).message }, 'could not bring the node\'s MySQL certificate to the instance');
    }
  }
  return done;
}
