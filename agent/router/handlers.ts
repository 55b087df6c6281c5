import type { AgentHandlers } from '../../src/gen/berth/v1/Agent';
import { invalidArgument } from '../../src/errors';
import type { Logger } from '../../src/log';
import { unary } from '../../src/rpc';
import { checkFrontends, type RouterFrontend } from './config';
import type { HaproxyRouter } from './supervisor';

export type RouterHandlers = Pick<AgentHandlers, 'ApplyRouter'>;

// Longer than the default: a (re)start of HAProxy waits for its socket.
const APPLY_LIMIT_MS = 20_000;

export function routerHandlers(router: HaproxyRouter, log: Logger): RouterHandlers {
  return {
    ApplyRouter: unary(log, 'ApplyRouter', async (req) => {
      const frontends: RouterFrontend[] = req.frontends.map((f) => ({ name: f.name, port: f.port, servers: f.servers.map((s) => ({ name: s.name, host: s.host, port: s.port, ready: s.ready, backup: s.backup })) }));
      const bad = checkFrontends(frontends);
      if (bad) throw invalidArgument(bad);
      const r = await router.apply(Number(req.generation), frontends, req.leaseMs);
      return { applied: r.applied, reloaded: r.reloaded, stats: r.stats };
    }, APPLY_LIMIT_MS),
  };
}
