import type { AlertRule } from '../types';

// A binlog archive must be contiguous by GTID: a gap means a point-in-time restore past it
// cannot be done from the archive (docs/backup.md). Stays until archiving is turned off and on.
export const binlogArchiveGap: AlertRule = {
  name: 'binlog_archive_gap',
  evaluate: (s) =>
    (s.binlogArchives ?? [])
      .filter((a) => a.gap)
      .map((a) => ({ rule: 'binlog_archive_gap', subject: a.cluster, severity: 'critical', message: a.gap })),
};

// Behind: the primary has held transactions the archiver has not received for longer than the
// threshold, or the archiver does not run; the RPO target is 5 s, so 30 s is far off it.
export const BINLOG_ARCHIVE_BEHIND_SECONDS = 30;
export const binlogArchiveBehind: AlertRule = {
  name: 'binlog_archive_behind',
  evaluate: (s) =>
    (s.binlogArchives ?? [])
      .filter((a) => !a.running || a.lagSeconds > BINLOG_ARCHIVE_BEHIND_SECONDS)
      .map((a) => ({
        rule: 'binlog_archive_behind',
        subject: a.cluster,
        severity: 'warning',
        message: a.running ? `the binlog archive of ${a.cluster} is ${Math.round(a.lagSeconds)} s behind its primary` : `the binlog archiver of ${a.cluster} does not run${a.error ? `: ${a.error}` : ''}`,
      })),
};
