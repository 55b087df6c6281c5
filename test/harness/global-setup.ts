import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import Docker from 'dockerode';

// Integration tests need the real thing. Set-up starts dockerd when none answers and builds the
// image when it is missing (both idempotent, seconds when done already); if that cannot be
// done the tests fail loudly here, they are never skipped.
export default async function setup(): Promise<() => void> {
  execFileSync('bash', [path.resolve(__dirname, '..', '..', 'scripts', 'setup.sh')], {
    stdio: 'inherit',
    env: { ...process.env, BERTH_SETUP_SKIP_NPM: '1' },
  });
  const socketPath = process.env.BERTH_DOCKER_SOCKET ?? '/var/run/docker.sock';
  try {
    await new Docker({ socketPath }).ping();
  } catch (err) {
    throw new Error(`integration tests need a Docker engine on ${socketPath} and none answers (${(err as Error).message}). Run: npm run setup`);
  }
  // The S3 suites start radosgw when they need it (test/harness/s3-server.ts); stop it after the
  // run only if this run started it (another run, or a developer, may be using it).
  const s3 = path.resolve(__dirname, '..', '..', 'scripts', 's3-server.sh');
  const s3Up = () => spawnSync('bash', [s3, 'status']).status === 0;
  const wasUp = s3Up();
  return () => {
    if (!wasUp && s3Up()) execFileSync('bash', [s3, 'stop'], { stdio: 'inherit' });
  };
}
