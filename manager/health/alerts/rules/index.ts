import type { AlertRule } from '../types';
import { binlogArchiveBehind, binlogArchiveGap } from './binlog-archive';
import { backupDrillFailed, backupNotVerified } from './backup-drills';
import { endpointNoBackend } from './endpoint-no-backend';
import { capacityRunway } from './capacity-runway';
import { diskFree } from './disk-free';
import { instanceDisk } from './instance-disk';
import { mysqldUnresponsive } from './mysqld-unresponsive';
import { nodeDown } from './node-down';
import { clusterNoWritablePrimary, failoverHappened, replicationBroken, replicationLag, semiSyncDegraded } from './replication';

// Replication lag and failover rules join here with replicated clusters.
export const DEFAULT_RULES: AlertRule[] = [nodeDown, diskFree, instanceDisk, mysqldUnresponsive, replicationBroken, replicationLag, semiSyncDegraded, failoverHappened, clusterNoWritablePrimary, capacityRunway, binlogArchiveGap, binlogArchiveBehind, backupDrillFailed, backupNotVerified, endpointNoBackend];
