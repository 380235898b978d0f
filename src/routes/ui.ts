/**
 * The browser side, built by `npm run build:ui` into dist/ui and served here:
 *
 *   GET /widget.js            the loader a host page embeds with one <script>
 *   GET /widget/frame.html    the chat UI the loader puts in an iframe; its
 *                             CSP `frame-ancestors` lets only the site's
 *                             allowedOrigins (any origin when none are set) frame it
 *   GET /widget/*             the chat UI's assets
 *   GET /workbench/           the agent workbench (never framed)
 *   GET /demo                 a demo shop page with the widget on it
 *
 * Pages carry a Content-Security-Policy that allows scripts from this origin
 * only, so a message that ever slipped into HTML could not run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from '../errors.js';

export interface UiRoutesOptions {
  /** dist/ui */
  uiDir: string;
  /** the site key /demo uses when none is given (the seeded demo site's) */
  demoSiteKey: () => string | undefined;
}

const NOT_BUILT = 'the browser UI is not built: run `npm run build:ui` (npm start does it)';

/** ws:// and wss:// of the host the page was asked for, for connect-src */
function socketSources(request: FastifyRequest): string {
  const host = request.headers.host ?? '';
  return /^[A-Za-z0-9.:[\]-]+$/.test(host) ? `ws://${host} wss://${host}` : '';
}

function pagePolicy(request: FastifyRequest, frameAncestors: string): string {
  return [
    "default-src 'self'",
    `connect-src 'self' ${socketSources(request)}`.trim(),
    "img-src 'self' data: blob:",
    "style-src 'self' 'unsafe-inline'",
    "script-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    `frame-ancestors ${frameAncestors}`,
  ].join('; ');
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const routes: FastifyPluginAsync<UiRoutesOptions> = async (app, opts) => {
  const built = existsSync(join(opts.uiDir, 'widget.js'));
  if (!built) app.log.warn(NOT_BUILT);
  const unavailable = (_request: FastifyRequest, reply: FastifyReply) => reply.code(503).send(errorBody('unavailable', NOT_BUILT));

  const noStore = { 'cache-control': 'no-cache' };

  if (built) {
    await app.register(fastifyStatic, { root: join(opts.uiDir, 'widget'), prefix: '/widget/', index: false, cacheControl: true, maxAge: '5m', decorateReply: true });
    await app.register(fastifyStatic, { root: join(opts.uiDir, 'workbench'), prefix: '/workbench/', index: false, cacheControl: true, maxAge: '5m', decorateReply: false });
  }

  app.get('/widget.js', { schema: { hide: true } }, async (request, reply) => {
    if (!built) return unavailable(request, reply);
    // short-lived: host pages pick up a new loader within minutes of a deploy
    return reply.header('cache-control', 'public, max-age=300').header('access-control-allow-origin', '*').sendFile('widget.js', opts.uiDir);
  });

  app.get<{ Querystring: { siteKey?: string } }>('/widget/frame.html', { schema: { hide: true } }, async (request, reply) => {
    if (!built) return unavailable(request, reply);
    const siteKey = typeof request.query.siteKey === 'string' ? request.query.siteKey.slice(0, 100) : '';
    const site = siteKey ? await app.domain.directory.site(siteKey) : null;
    // an unknown key frames nowhere; a site without allowedOrigins anywhere
    const ancestors = !site ? "'none'" : site.allowedOrigins.length > 0 ? site.allowedOrigins.join(' ') : '*';
    return reply.headers({ ...noStore, 'content-security-policy': pagePolicy(request, ancestors), 'referrer-policy': 'no-referrer' }).sendFile('frame.html', join(opts.uiDir, 'widget'));
  });

  app.get('/workbench', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/workbench/'));
  app.get('/workbench/', { schema: { hide: true } }, async (request, reply) => {
    if (!built) return unavailable(request, reply);
    return reply
      .headers({ ...noStore, 'content-security-policy': pagePolicy(request, "'none'"), 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' })
      .sendFile('index.html', join(opts.uiDir, 'workbench'));
  });

  const demoTemplate = built && existsSync(join(opts.uiDir, 'demo.html')) ? readFileSync(join(opts.uiDir, 'demo.html'), 'utf8') : null;
  app.get<{ Querystring: { siteKey?: string } }>('/demo', { schema: { hide: true } }, async (request, reply) => {
    if (!demoTemplate) return unavailable(request, reply);
    const siteKey = (typeof request.query.siteKey === 'string' && request.query.siteKey) || opts.demoSiteKey();
    if (!siteKey) {
      return reply.code(404).type('text/plain').send('No demo site here: open /demo?siteKey=<your site key>, or start the service with DEMO=true on an empty database.');
    }
    return reply
      .headers({ ...noStore, 'content-security-policy': pagePolicy(request, "'self'") })
      .type('text/html; charset=utf-8')
      .send(demoTemplate.replaceAll('{{SITE_KEY}}', escapeHtml(siteKey)));
  });
};

export default routes;
