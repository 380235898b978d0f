/**
 * Authentication: who a bearer token (or the WebSocket `auth` frame's token)
 * stands for. Operator: ADMIN_TOKEN. Site admin and bot: opaque secrets
 * looked up by hash. Agent and visitor: tokens signed with TOKEN_SECRET,
 * checked against the account they name on every use.
 */
import type { FastifyRequest } from 'fastify';
import { createSigner, createVerifier } from 'fast-jwt';
import fp from 'fastify-plugin';
import type { Account, Actor } from '../src/domain/model.js';
import { safeEqual } from '../src/domain/secrets.js';
import { forbidden, unauthorized } from '../src/errors.js';
import { bearerToken } from '../src/routes/bearer.js';

export type Principal = { kind: 'operator' } | { kind: 'siteAdmin'; siteId: string } | Actor;

declare module 'fastify' {
  interface FastifyInstance {
    auth: {
      /** A signed token for an agent or a visitor. */
      issue(account: Account): string;
      /** The actor (agent, visitor, bot) a token stands for, or null. */
      actor(token: string): Promise<Actor | null>;
      principal(request: FastifyRequest): Promise<Principal>;
      requireOperator(request: FastifyRequest): Promise<void>;
      requireSiteAdmin(request: FastifyRequest): Promise<string>;
      requireActor(request: FastifyRequest, kinds: Array<Actor['kind']>): Promise<Actor>;
    };
  }
}

export interface AuthPluginOptions {
  adminToken: string;
  tokenSecret: string;
}

const TTL_MS = { agent: 12 * 3600_000, visitor: 365 * 86400_000 };

export default fp<AuthPluginOptions>(
  async (app, opts) => {
    const signers = {
      agent: createSigner({ key: opts.tokenSecret, algorithm: 'HS256', expiresIn: TTL_MS.agent }),
      visitor: createSigner({ key: opts.tokenSecret, algorithm: 'HS256', expiresIn: TTL_MS.visitor }),
    };
    // The cache spares the REST callers of the moment a signature check each. Kept small: a
    // connection's token is checked once, so one entry per connection held (10,000 of them
    // took 0.3 KB each, a twentieth of an idle connection's heap) would only churn.
    const verify = createVerifier({ key: opts.tokenSecret, algorithms: ['HS256'], cache: 1000 });
    const { directory } = app.domain;
    const accounts = app.mongo.stores.accounts;

    async function actor(token: string): Promise<Actor | null> {
      if (token.startsWith('bt_')) {
        const cred = await directory.credential(token);
        if (!cred || cred.kind !== 'bot' || !cred.accountId) return null;
        const bot = await accounts.get(cred.accountId);
        return bot ? { id: bot.id, siteId: bot.siteId, kind: 'bot', name: bot.name } : null;
      }
      let claims: { sub?: unknown; site?: unknown; kind?: unknown };
      try {
        claims = verify(token) as typeof claims;
      } catch {
        return null;
      }
      if (typeof claims.sub !== 'string') return null;
      const account = await accounts.get(claims.sub);
      if (!account || account.kind !== claims.kind || account.siteId !== claims.site) return null;
      if (account.kind !== 'agent' && account.kind !== 'visitor') return null;
      return { id: account.id, siteId: account.siteId, kind: account.kind, name: account.name };
    }

    function bearer(request: FastifyRequest): string {
      const token = bearerToken(request.headers.authorization);
      if (!token) throw unauthorized('send Authorization: Bearer <token>');
      return token;
    }

    async function principal(request: FastifyRequest): Promise<Principal> {
      const token = bearer(request);
      if (safeEqual(token, opts.adminToken)) return { kind: 'operator' };
      if (token.startsWith('sa_')) {
        const cred = await directory.credential(token);
        if (cred?.kind === 'siteAdmin') return { kind: 'siteAdmin', siteId: cred.siteId };
        throw unauthorized('unknown site admin key');
      }
      const found = await actor(token);
      if (!found) throw unauthorized('invalid or expired token');
      return found;
    }

    app.decorate('auth', {
      issue(account: Account) {
        if (account.kind !== 'agent' && account.kind !== 'visitor') throw new Error(`no signed tokens for ${account.kind}`);
        return signers[account.kind]({ sub: account.id, site: account.siteId, kind: account.kind });
      },
      actor,
      principal,
      async requireOperator(request) {
        if ((await principal(request)).kind !== 'operator') throw forbidden('operator token required');
      },
      async requireSiteAdmin(request) {
        const p = await principal(request);
        if (p.kind !== 'siteAdmin') throw forbidden('site admin key required');
        return p.siteId;
      },
      async requireActor(request, kinds) {
        const p = await principal(request);
        if (p.kind === 'operator' || p.kind === 'siteAdmin' || !kinds.includes(p.kind)) {
          throw forbidden(`only ${kinds.join(', ')} may do this`);
        }
        return p;
      },
    });
  },
  { name: 'auth', dependencies: ['domain', 'mongo'] },
);
