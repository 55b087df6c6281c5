import { status } from '@grpc/grpc-js';

// An error that crosses the API edge as a gRPC status with a message a person can act on.
export class BerthError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = 'BerthError';
  }
}

export const invalidArgument = (msg: string) => new BerthError(status.INVALID_ARGUMENT, msg);
export const notFound = (msg: string) => new BerthError(status.NOT_FOUND, msg);
export const alreadyExists = (msg: string) => new BerthError(status.ALREADY_EXISTS, msg);
export const resourceExhausted = (msg: string) => new BerthError(status.RESOURCE_EXHAUSTED, msg);
export const failedPrecondition = (msg: string) => new BerthError(status.FAILED_PRECONDITION, msg);
export const unavailable = (msg: string) => new BerthError(status.UNAVAILABLE, msg);

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export const unauthenticated = (msg: string) => new BerthError(status.UNAUTHENTICATED, msg);
export const permissionDenied = (msg: string) => new BerthError(status.PERMISSION_DENIED, msg);
