/**
 * The directory: sites, agents, bots and visitors, and how each proves who it
 * is. Signing session tokens is the auth plugin's job; this module decides
 * which account a credential stands for.
 */
import { conflict, notFound, unauthorized } from '../errors.js';
import type { Account, Site } from './model.js';
import type { CredentialStore, DirectoryStore } from './ports.js';
import { hashPassword, identityHash, randomToken, safeEqual, sha256, verifyPassword } from './secrets.js';

export interface DirectoryDeps {
  directory: DirectoryStore;
  credentials: CredentialStore;
  newId(): string;
  now(): Date;
}

export interface VisitorIdentity {
  userId: string;
  name?: string;
  email?: string;
  hash: string;
}

export type Directory = ReturnType<typeof createDirectory>;

export const DEFAULT_MAX_SESSIONS = 5;

// A fixed hash to compare against when the email is unknown, so that a failed
// login takes as long whether or not the account exists.
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

export function createDirectory(deps: DirectoryDeps) {
  const { directory, credentials, newId, now } = deps;

  async function createSite(input: { name: string; allowedOrigins?: string[] }) {
    const site: Site = {
      id: newId(),
      name: input.name,
      siteKey: randomToken('sk', 12),
      identitySecret: randomToken('is', 24),
      allowedOrigins: input.allowedOrigins ?? [],
      routing: { mode: 'human', assign: 'manual' },
      createdAt: now(),
    };
    const adminKey = randomToken('sa');
    await directory.createSite(site);
    await credentials.put(sha256(adminKey), { kind: 'siteAdmin', siteId: site.id });
    return { site, adminKey, siteKey: site.siteKey, identitySecret: site.identitySecret };
  }

  async function createAgent(siteId: string, input: { email: string; name: string; password: string; maxSessions?: number }) {
    const email = input.email.trim().toLowerCase();
    const agent: Account = {
      id: newId(),
      siteId,
      kind: 'agent',
      name: input.name,
      email,
      maxSessions: input.maxSessions ?? DEFAULT_MAX_SESSIONS,
      createdAt: now(),
    };
    const { created } = await directory.createAccount(agent, `email:${email}`, { passwordHash: await hashPassword(input.password) });
    if (!created) throw conflict('an agent with this email already exists');
    return agent;
  }

  async function createBot(siteId: string, input: { name: string; webhookUrl: string }) {
    const bot: Account = { id: newId(), siteId, kind: 'bot', name: input.name, webhookUrl: input.webhookUrl, createdAt: now() };
    const token = randomToken('bt');
    const webhookSecret = randomToken('wh');
    await directory.createAccount(bot, `id:${bot.id}`, { webhookSecret });
    await credentials.put(sha256(token), { kind: 'bot', siteId, accountId: bot.id });
    return { bot, token, webhookSecret };
  }

  /** A visitor of a site: identified (same account on every device) or anonymous (a new account). */
  async function visitor(siteKey: string, identity?: VisitorIdentity): Promise<{ site: Site; visitor: Account }> {
    const site = await directory.siteByKey(siteKey);
    if (!site) throw notFound('site');
    if (!identity) {
      const anon: Account = { id: newId(), siteId: site.id, kind: 'visitor', name: `Visitor ${randomToken('v', 3).slice(2, 6)}`, createdAt: now() };
      await directory.createAccount(anon, `id:${anon.id}`);
      return { site, visitor: anon };
    }
    if (!safeEqual(identity.hash.toLowerCase(), identityHash(identity.userId, site.identitySecret))) {
      throw unauthorized('identity hash does not match');
    }
    const account: Account = {
      id: newId(),
      siteId: site.id,
      kind: 'visitor',
      name: identity.name ?? identity.userId,
      userId: identity.userId,
      ...(identity.email ? { email: identity.email } : {}),
      createdAt: now(),
    };
    const { account: stored } = await directory.createAccount(account, `user:${site.id}:${identity.userId}`);
    return { site, visitor: stored };
  }

  async function login(input: { email: string; password: string; siteId?: string }): Promise<Account> {
    const found = await directory.accountByKey(`email:${input.email.trim().toLowerCase()}`);
    const ok = await verifyPassword(input.password, found?.passwordHash ?? DUMMY_HASH);
    if (!found || !ok || found.kind !== 'agent' || (input.siteId && input.siteId !== found.siteId)) {
      throw unauthorized('wrong email or password');
    }
    const { passwordHash: _p, webhookSecret: _w, ...agent } = found;
    return agent;
  }

  /** What an opaque secret (site admin key or bot token) grants, if anything. */
  function credential(secret: string) {
    return credentials.get(sha256(secret));
  }

    /** The site a public site key names, if any. */
  function site(siteKey: string): Promise<Site | null> {
    return directory.siteByKey(siteKey);
  }

  return { createSite, createAgent, createBot, visitor, login, credential, site, listAgents: directory.listAgents };
}
