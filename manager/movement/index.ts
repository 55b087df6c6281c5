// Data movement between instances: hot copy, replica from a copy, catch-up, cut-over, and the
// pure decisions behind them. Plain async functions, so operations (migrate, resize, cluster
// switchover and failover) wrap them in their steps.
export { copy, type CopyOptions, type CopyResult } from './copy';
export { discardCopy, type Discarded, type OnDiscarded } from './discard';
export { catchUp, makeReplica, releaseReplica, repointReplica, type CatchUpResult, type ReplicaLink } from './replica';
export { cutOver, CutOverIncomplete, promote, stopWrites, type CutOverOptions, type CutOverRoutes, type CutOverResult, type StopWritesResult, type WritesStopped } from './cutover';
export { errantTransactions, hasAll, isCaughtUp, lagTransactions, mayCutOver, mostAdvanced, replicationBroken, type Candidate, type LagLimits } from './decide';
export { MovementAborted, type Endpoint, type MovementOptions, type MovementProgress, type TargetEndpoint } from './types';
