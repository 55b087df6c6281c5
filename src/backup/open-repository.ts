import fs from 'node:fs';
import { DirRepository, parseRepository, type Repository, type RepositorySpec } from './repository';
import { S3Repository, type S3Credentials } from './s3-repository';

// A repository object for a spec: the manager's (from its flags) and the agents' (from each
// request, with the credentials the manager sent along).
export function openRepository(spec: string | RepositorySpec, credentials?: S3Credentials): Repository {
  const s = typeof spec === 'string' ? parseRepository(spec) : spec;
  if (s.kind === 'dir') return new DirRepository(s);
  return new S3Repository(s, credentials ?? { accessKeyId: '', secretAccessKey: '' });
}

// The s3: credentials file (0600, beside the manager's other secrets): lines
// BERTH_S3_ACCESS_KEY=… and BERTH_S3_SECRET_KEY=… (what `scripts/s3-server.sh env` prints), or
// JSON {"accessKeyId": …, "secretAccessKey": …}. Refused when others may read it.
export function loadS3Credentials(file: string): S3Credentials {
  const st = fs.statSync(file);
  if (st.mode & 0o077) throw new Error(`${file} may be read by others (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it`);
  const text = fs.readFileSync(file, 'utf8');
  if (text.trimStart().startsWith('{')) {
    const j = JSON.parse(text) as Partial<S3Credentials>;
    return check(file, { accessKeyId: String(j.accessKeyId ?? ''), secretAccessKey: String(j.secretAccessKey ?? '') });
  }
  const kv = Object.fromEntries(
    text
      .split('\n')
      .map((l) => /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(l))
      .filter((m): m is RegExpExecArray => !!m)
      .map((m) => [m[1]!, m[2]!]),
  );
  return check(file, { accessKeyId: kv.BERTH_S3_ACCESS_KEY ?? '', secretAccessKey: kv.BERTH_S3_SECRET_KEY ?? '' });
}

function check(file: string, c: S3Credentials): S3Credentials {
  if (!c.accessKeyId || !c.secretAccessKey) throw new Error(`${file} holds no access key and secret key`);
  return c;
}
