import { execFileSync } from 'node:child_process';
import Docker from 'dockerode';

// Integration tests need the real thing: fail loudly, never skip, when it is missing.
export default async function setup(): Promise<void> {
  const socketPath = process.env.BERTH_DOCKER_SOCKET ?? '/var/run/docker.sock';
  try {
    await new Docker({ socketPath }).ping();
  } catch (err) {
    throw new Error(`integration tests need a Docker engine on ${socketPath} and none answers (${(err as Error).message}). Run: npm run setup`);
  }
  const image = process.env.BERTH_IMAGE ?? 'berth/mariadb:10.11';
  try {
    await new Docker({ socketPath }).getImage(image).inspect();
  } catch {
    throw new Error(`integration tests need the image ${image}. Run: npm run setup`);
  }
  // The tests run the compiled programs, as production does: make sure they are current.
  execFileSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
}
