import type * as grpc from '@grpc/grpc-js';
import type { Logger } from './log';

// SIGINT/SIGTERM: stop taking calls, let calls in flight finish (up to graceMs), clean up, exit.
export function stopOnSignals(log: Logger, what: string, server: grpc.Server, cleanup: () => void, graceMs: number): void {
  const stop = (sig: string) => {
    log.info({ sig }, `${what} stopping`);
    server.tryShutdown(() => {
      cleanup();
      process.exit(0);
    });
    setTimeout(() => process.exit(0), graceMs).unref();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

// A program's main(): a failure at start-up is one line on stderr and exit code 1.
export function runMain(program: string, main: () => Promise<void>): void {
  main().catch((err: Error) => {
    process.stderr.write(`${program}: ${err.message}\n`);
    process.exit(1);
  });
}
