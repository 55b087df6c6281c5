import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const BASE = process.env.BERTH_IMAGE ?? 'berth/mariadb:10.11';

// Broken MySQL images for failure tests, built FROM the real one with `docker build` (offline:
// no registry is needed), tagged berth-test-<what>:<run id> and removed by removeTestImages().
export function buildTestImage(what: string, runId: string, dockerfileLines: string[]): string {
  const tag = `berth-test-${what}:${runId}`;
  const ctx = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-image-'));
  try {
    fs.writeFileSync(path.join(ctx, 'Dockerfile'), [`FROM ${BASE}`, ...dockerfileLines].join('\n') + '\n');
    execFileSync('docker', ['build', '-q', '-t', tag, ctx], { stdio: ['ignore', 'ignore', 'pipe'] });
  } finally {
    fs.rmSync(ctx, { recursive: true, force: true });
  }
  return tag;
}

export function removeTestImages(tags: string[]): void {
  for (const t of tags) {
    if (!t.startsWith('berth-test-')) throw new Error(`refusing to remove ${t}: not a test image`);
    try {
      execFileSync('docker', ['rmi', '-f', t], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}

// A script installed ahead of the real program on PATH (/usr/local/bin, /usr/local/sbin).
export function shimLines(file: string, script: string): string[] {
  const b64 = Buffer.from(script).toString('base64');
  return [`RUN echo ${b64} | base64 -d > ${file} && chmod 755 ${file}`];
}

// The data directory initializer exits 7 after printing why.
export const INIT_FAILS = shimLines('/usr/local/bin/mariadb-install-db', '#!/bin/sh\necho "berth-test: the initializer fails on purpose" >&2\nexit 7\n');

// `mysqld --version` works (the agent reads the flavor with it) but the server exits 3 at start.
export const MYSQLD_EXITS = shimLines(
  '/usr/local/sbin/mysqld',
  '#!/bin/sh\nfor a in "$@"; do [ "$a" = --version ] && exec /usr/sbin/mariadbd "$@"; done\necho "berth-test: mysqld exits on purpose" >&2\nexit 3\n',
);
