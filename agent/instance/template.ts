import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { errorMessage } from '../../src/errors';
import type { Logger } from '../../src/log';
import type { Flavor } from '../../src/mysql/dialect';
import type { InstanceContainers } from './container';
import { exists, initCommand, prepareDirs } from './datadir';
import { renderMyCnf } from './mycnf';
import { DIRS, layoutAt, type Layout } from './layout';

const run = promisify(execFile);

// Warm create: per (image, data disk) the agent keeps a data directory initialized once, in the
// background, in <disk>/berth/.templates/<image id>/, and a create copies it instead of running
// the initializer in a throwaway container. The copy is the initializer's output minus what
// makes one server distinct from another, which mysqld makes afresh at its first start: MySQL's
// auto.cnf (server_uuid), the TLS and RSA key pairs mysqld generates (never shared between
// servers), and any binary log (and MariaDB's binlog.state, its GTID state at shutdown). server_id, the port and the shape come from the instance's own
// my.cnf, the admin user and its password from the create's usual configureUsers. A template
// made for an image id that is no longer what the image's name points to is never used: the
// next create of that image builds a new one and the old one is deleted.

// Written last into a finished template; its presence is what "ready" means.
const MARKER = 'template.json';
// Written into an instance made from a template (what it was made from).
export const WARM_MARKER = 'warm.json';

// Files of one server's identity, removed from the template (mysqld recreates them at start).
export const IDENTITY_FILES = /^(auto\.cnf|[a-z_-]*\.pem|binlog\..+|mysqld-auto\.cnf)$/;

export interface TemplateInfo {
  image: string;
  imageId: string;
  flavor: Flavor;
  builtAt: string;
}

export const templatesDir = (disk: string) => path.join(disk, 'berth', '.templates');
const keyOf = (imageId: string) => imageId.replace(/^sha256:/, '').slice(0, 24);
export const templateRoot = (disk: string, imageId: string) => path.join(templatesDir(disk), keyOf(imageId));

export class Templates {
  private readonly building = new Map<string, Promise<void>>();

  constructor(
    private readonly containers: InstanceContainers,
    private readonly log: Logger,
  ) {}

  // The template's data directory when one is ready for this image id on this disk.
  async ready(disk: string, imageId: string): Promise<string | undefined> {
    const root = templateRoot(disk, imageId);
    return (await exists(path.join(root, MARKER))) ? path.join(root, 'data') : undefined;
  }

  // Starts building the template in the background unless it is there or being built. The
  // promise is for tests and the bench; an agent never waits for it.
  ensure(disk: string, image: string, imageId: string, flavor: Flavor): Promise<void> {
    const root = templateRoot(disk, imageId);
    const running = this.building.get(root);
    if (running) return running;
    const p = (async () => {
      if (await exists(path.join(root, MARKER))) return;
      const t0 = Date.now();
      await this.build(disk, root, { image, imageId, flavor, builtAt: '' });
      this.log.info({ disk, image, imageId: keyOf(imageId), ms: Date.now() - t0 }, 'data directory template ready');
      await this.dropOthers(disk, image, imageId);
    })()
      .catch((err) => this.log.warn({ disk, image, err: errorMessage(err) }, 'building a data directory template failed; creates initialize as before'))
      .finally(() => this.building.delete(root));
    this.building.set(root, p);
    return p;
  }

  // The template's data directory becomes the instance's: a copy keeping owners and modes (the
  // image's mysql user), the directories mysqld writes handed to the same owner, the identity
  // files left behind. A failed copy leaves no data directory.
  async copyInto(from: string, layout: Layout, info: { imageId: string }): Promise<void> {
    await fs.rm(layout.dirs.data, { recursive: true, force: true });
    try {
      await run('cp', ['-a', '--reflink=auto', from, layout.dirs.data]);
      await stripIdentity(layout.dirs.data);
      const { uid, gid } = await fs.stat(from);
      for (const d of DIRS) if (d !== 'conf' && d !== 'data') await fs.chown(layout.dirs[d], uid, gid);
    } catch (err) {
      await fs.rm(layout.dirs.data, { recursive: true, force: true });
      throw err;
    }
    await fs.writeFile(path.join(layout.root, WARM_MARKER), JSON.stringify({ template: from, imageId: info.imageId, copiedAt: new Date().toISOString() }));
  }

  // Initialized in a directory of its own, then renamed into place: a crash leaves no
  // half-made template under the name a create looks for.
  private async build(disk: string, root: string, info: TemplateInfo): Promise<void> {
    const tmp = `${root}.building`;
    await fs.rm(tmp, { recursive: true, force: true });
    const layout = layoutAt(tmp);
    try {
      await prepareDirs(layout);
      // Any server id and port: neither is kept in the data directory. No binary log and no
      // GTIDs: MySQL would record the initializer's own statements (auth_socket, root locked to
      // the socket) as transactions of the template's server in mysql.gtid_executed, which
      // every copy would then carry.
      await fs.writeFile(layout.mycnf, templateMyCnf(info.flavor), { mode: 0o644 });
      await this.containers.runInit(info.image, initCommand(info.flavor), layout, `template-${keyOf(info.imageId)}`, disk);
      await stripIdentity(layout.dirs.data);
      await fs.writeFile(path.join(tmp, MARKER), JSON.stringify({ ...info, builtAt: new Date().toISOString() }));
      await fs.rm(root, { recursive: true, force: true });
      await fs.rename(tmp, root);
    } catch (err) {
      await fs.rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  // Templates of earlier ids of this image name are of no use once the new one is ready.
  private async dropOthers(disk: string, image: string, imageId: string): Promise<void> {
    for (const e of await fs.readdir(templatesDir(disk)).catch(() => [] as string[])) {
      if (e === keyOf(imageId) || e.endsWith('.building')) continue;
      const info = JSON.parse(await fs.readFile(path.join(templatesDir(disk), e, MARKER), 'utf8').catch(() => '{}')) as Partial<TemplateInfo>;
      if (info.image !== image) continue;
      await fs.rm(path.join(templatesDir(disk), e), { recursive: true, force: true });
      this.log.info({ disk, image, imageId: info.imageId }, 'data directory template of an earlier image removed');
    }
  }
}

export function templateMyCnf(flavor: Flavor): string {
  const cnf = renderMyCnf({ flavor, instanceId: 'template', serverId: 1, bindAddress: '127.0.0.1', port: 3306, memoryBytes: 512 * 1024 ** 2 });
  return cnf.replace(/^log-bin = .*$/m, 'skip-log-bin').replace(/^gtid-mode = ON$/m, 'gtid-mode = OFF');
}

async function stripIdentity(dataDir: string): Promise<void> {
  for (const f of await fs.readdir(dataDir)) if (IDENTITY_FILES.test(f)) await fs.rm(path.join(dataDir, f), { force: true });
}
