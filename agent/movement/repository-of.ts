import { invalidArgument } from '../../src/errors';
import { openRepository } from '../../src/backup/open-repository';
import type { Repository } from '../../src/backup/repository';
import type { RepositoryCredentials__Output } from '../../src/gen/berth/v1/RepositoryCredentials';

// The repository a manager's request names, with the credentials it sent along (s3:). The agent
// keeps no copy of them and never logs them; a spec it cannot use is INVALID_ARGUMENT.
export function repositoryOf(spec: string, credentials?: RepositoryCredentials__Output | null): Repository {
  try {
    return openRepository(spec, credentials ? { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey } : undefined);
  } catch (err) {
    throw invalidArgument((err as Error).message);
  }
}
