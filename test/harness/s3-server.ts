import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './cluster';

// The real S3 server of the S3 tests (scripts/s3-server.sh: Ceph's radosgw on 127.0.0.81,
// started when it is not running, in ~20 s). If it cannot start the suite fails loudly here; it
// is never skipped. It is left running for the next suite (start is a no-op then).
export interface S3Server {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

export function startS3Server(): S3Server {
  let out: string;
  try {
    out = execFileSync('bash', [path.join(ROOT, 'scripts', 's3-server.sh'), 'start'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 240_000 });
  } catch (err) {
    throw new Error(`the S3 tests need a real S3 server and scripts/s3-server.sh start failed (${(err as Error).message}); it needs Debian's radosgw, ceph-mon, ceph-osd (npm run setup installs them)`);
  }
  const kv = Object.fromEntries(out.split('\n').map((l) => l.split('=', 2)).filter((p) => p.length === 2)) as Record<string, string>;
  if (!kv.BERTH_S3_ENDPOINT || !kv.BERTH_S3_ACCESS_KEY || !kv.BERTH_S3_SECRET_KEY) throw new Error('scripts/s3-server.sh start printed no endpoint and credentials');
  return { endpoint: kv.BERTH_S3_ENDPOINT, accessKeyId: kv.BERTH_S3_ACCESS_KEY, secretAccessKey: kv.BERTH_S3_SECRET_KEY, region: kv.BERTH_S3_REGION ?? 'default' };
}

// A 0600 credentials file for a manager's --backup-s3-credentials-file.
export function writeCredentialsFile(dir: string, s: S3Server): string {
  const f = path.join(dir, 's3-credentials');
  fs.writeFileSync(f, `BERTH_S3_ACCESS_KEY=${s.accessKeyId}\nBERTH_S3_SECRET_KEY=${s.secretAccessKey}\n`, { mode: 0o600 });
  return f;
}

export const s3Spec = (s: S3Server, bucket: string, prefix = '') => `s3://${bucket}${prefix ? `/${prefix}` : ''}?endpoint=${encodeURIComponent(s.endpoint)}&region=${s.region}`;
