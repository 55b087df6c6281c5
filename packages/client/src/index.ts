// @berth/client: a typed client of berth's Portal API (docs/client.md).
export { BerthClient, mutatingMethods, type ClientOptions, type CallOptions, type PortalCalls } from './client';
export { credentialsFor, type ConnectionOptions } from './connect';
export { DEFAULT_RETRY, RETRIED_CODES, withRetry, isServiceError, type RetryPolicy } from './retry';
export { ENDED_STATES, OperationFailedError } from './watch';
export { pages, type Paged } from './pages';
export type { Operation__Output as Operation } from './gen/berth/v1/Operation';
export type { Event__Output as Event } from './gen/berth/v1/Event';
export type { Instance__Output as Instance } from './gen/berth/v1/Instance';
export type { Cluster__Output as Cluster } from './gen/berth/v1/Cluster';
export type { Node__Output as Node } from './gen/berth/v1/Node';
export type { Backup__Output as Backup } from './gen/berth/v1/Backup';
