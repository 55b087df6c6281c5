import type { PortalHandlers } from '../../src/gen/berth/v1/Portal';
import { alreadyExists, invalidArgument } from '../../src/errors';
import type { Logger } from '../../src/log';
import { unary } from '../../src/rpc';
import { ROLES, type Role } from '../../src/tls/ca';
import { checkName } from '../../src/validate';
import { principalOf } from './principal';
import type { TokensTable } from '../store/tokens';

type TokenHandlers = Pick<PortalHandlers, 'CreateToken' | 'ListTokens' | 'RevokeToken'>;

// The portal's token RPCs (admin only, enforced by the portal guard); each change is an event,
// recorded through `event` (the fleet state owner's, so its listeners hear it too).
export function tokenHandlers(tokens: TokensTable, event: (kind: string, subject: string, message: string) => void, log: Logger): TokenHandlers {
  const who = (call: object) => principalOf(call)?.who ?? 'unknown';
  return {
    CreateToken: unary(log, 'CreateToken', (req, call) => {
      const name = checkName('token name', req.name);
      if (!(ROLES as readonly string[]).includes(req.role)) throw invalidArgument(`role must be one of ${ROLES.join(', ')}, got "${req.role}"`);
      if (tokens.exists(name)) throw alreadyExists(`a token named ${name} exists; revoke it first to replace it`);
      const token = tokens.create(name, req.role as Role);
      event('token.created', `token:${name}`, `${who(call)} created token ${name} with role ${req.role}`);
      return { name, role: req.role, token };
    }),
    ListTokens: unary(log, 'ListTokens', () => ({ tokens: tokens.list() })),
    RevokeToken: unary(log, 'RevokeToken', (req, call) => {
      const name = checkName('token name', req.name);
      const existed = tokens.revoke(name);
      if (existed) event('token.revoked', `token:${name}`, `${who(call)} revoked token ${name}`);
      return { existed };
    }),
  };
}
