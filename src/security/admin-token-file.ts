import fs from 'node:fs';
import path from 'node:path';

// Where the manager keeps the admin HTTP token it made (manager/auth/admin-token.ts), and where
// berthctl finds it: beside the other credentials in the state directory.
export const ADMIN_TOKEN_FILE = 'admin-token';

export const adminTokenFile = (stateDir: string) => path.join(path.resolve(stateDir), ADMIN_TOKEN_FILE);

// The token in a file, or undefined when there is none. A file others may read is refused:
// the token is an admin credential.
export function readTokenFile(file: string): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return undefined;
  }
  if ((st.mode & 0o077) !== 0) throw new Error(`${file} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
  const t = fs.readFileSync(file, 'utf8').trim();
  return t || undefined;
}

