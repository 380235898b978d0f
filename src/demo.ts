/**
 * The demo a newcomer meets after `npm start`: on the very first start (no
 * site in the database yet) a demo site and a demo agent are created; their
 * credentials are kept in DATA_DIR/demo.json and printed on every start.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';

export interface DemoCredentials {
  siteId: string;
  siteKey: string;
  adminKey: string;
  identitySecret: string;
  agentEmail: string;
  agentPassword: string;
}

/** The demo credentials kept under DATA_DIR, if a demo was seeded there. */
export function readDemo(dataDir: string): DemoCredentials | null {
  const file = join(dataDir, 'demo.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as DemoCredentials) : null;
}

export async function ensureDemo(app: FastifyInstance, dataDir: string): Promise<DemoCredentials | null> {
  const file = join(dataDir, 'demo.json');
  const seeded = readDemo(dataDir);
  if (seeded) return seeded;
  if ((await app.mongo.stores.sites.countSites()) > 0) return null;
  const { directory } = app.domain;
  const { site, adminKey, siteKey, identitySecret } = await directory.createSite({ name: 'Demo shop' });
  const agentPassword = randomBytes(9).toString('base64url');
  const agentEmail = 'demo-agent@example.com';
  await directory.createAgent(site.id, { email: agentEmail, name: 'Demo Agent', password: agentPassword, maxSessions: 5 });
  const demo: DemoCredentials = { siteId: site.id, siteKey, adminKey, identitySecret, agentEmail, agentPassword };
  writeFileSync(file, `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });
  return demo;
}

export function describeStart(baseUrl: string, demo: DemoCredentials | null, adminTokenFile: string | null): string {
  const ws = baseUrl.replace(/^http/, 'ws');
  const lines = [
    '',
    `  IM service ready at ${baseUrl}`,
    `    API docs (OpenAPI)   ${baseUrl}/docs`,
    `    WebSocket            ${ws}/ws`,
    `    Health               ${baseUrl}/health/ready`,
    `    Agent workbench      ${baseUrl}/workbench/`,
  ];
  if (adminTokenFile) lines.push(`    Operator token       in ${adminTokenFile}`);
  if (demo) {
    lines.push(
      '',
      '  Demo site',
      `    site key             ${demo.siteKey}`,
      `    site admin key       ${demo.adminKey}`,
      `    agent login          ${demo.agentEmail} / ${demo.agentPassword}`,
      `    demo shop page       ${baseUrl}/demo   (the widget: chat as a visitor, answer in the workbench)`,
      '',
      '  Try it:',
      `    curl -s -XPOST ${baseUrl}/api/v1/visitors -H 'content-type: application/json' -d '{"siteKey":"${demo.siteKey}"}'`,
      `    curl -s -XPOST ${baseUrl}/api/v1/auth/login -H 'content-type: application/json' -d '{"email":"${demo.agentEmail}","password":"${demo.agentPassword}"}'`,
      '    then follow "Chat from a terminal" in the README.',
    );
  }
  return `${lines.join('\n')}\n`;
}
