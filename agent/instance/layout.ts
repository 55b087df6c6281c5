import path from 'node:path';

// Where an instance's files live on the host, and where its container sees them. The agent owns
// this layout: it is how it finds an instance's files again after a restart.
export const IN_CONTAINER = {
  data: '/var/lib/mysql',
  conf: '/etc/berth',
  log: '/var/log/berth',
  tmp: '/var/tmp/berth',
  run: '/run/berth',
} as const;

export const DEFAULTS_FILE = `${IN_CONTAINER.conf}/my.cnf`;
export const SOCKET = `${IN_CONTAINER.run}/mysqld.sock`;

export type Dir = keyof typeof IN_CONTAINER;
export const DIRS = Object.keys(IN_CONTAINER) as Dir[];

export interface Layout {
  root: string;
  dirs: Record<Dir, string>;
  mycnf: string;
  // The socket seen from the host: the agent talks SQL to its instances through it as root.
  socket: string;
}

export function layoutFor(diskPath: string, instanceId: string): Layout {
  return layoutAt(path.join(diskPath, 'berth', instanceId));
}

// The same layout under any root (a data directory template's).
export function layoutAt(root: string): Layout {
  const dirs = Object.fromEntries(DIRS.map((d) => [d, path.join(root, d)])) as Record<Dir, string>;
  return { root, dirs, mycnf: path.join(dirs.conf, 'my.cnf'), socket: path.join(dirs.run, 'mysqld.sock') };
}

export function binds(layout: Layout): string[] {
  return DIRS.map((d) => `${layout.dirs[d]}:${IN_CONTAINER[d]}${d === 'conf' ? ':ro' : ''}`);
}
