import type { AlertRule } from '../types';

// An endpoint that has had no server to send a session to for this long refuses every client:
// an outage of what it leads to. Shorter closures are part of the design (a failover closes the
// rw endpoint until the new primary is writable; a host partition's takes about 11 s).
export const ENDPOINT_NO_BACKEND_SECONDS = 30;

export const endpointNoBackend: AlertRule = {
  name: 'endpoint_no_backend',
  evaluate: (s) =>
    (s.endpoints ?? [])
      .filter((e) => s.now - e.sinceMs >= ENDPOINT_NO_BACKEND_SECONDS * 1000)
      .map((e) => ({
        rule: 'endpoint_no_backend',
        subject: e.name,
        // A read-write endpoint without a backend is an application that cannot write.
        severity: e.kind === 'ro' ? 'warning' : 'critical',
        message: `endpoint ${e.name} (${e.kind} of ${e.owner}, ${e.node}:${e.port}) has had no backend for ${Math.round((s.now - e.sinceMs) / 1000)} s: it refuses every connection`,
      })),
};
