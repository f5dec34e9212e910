import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { ErrorCode, TetherError } from '../../errors.js';
import { sendError } from '../errors.js';

/**
 * The dashboard: one page and its two assets, built into dist/web by `npm run build`. The page
 * holds no data: it signs in with an API token and reads everything through `/v1`, so the API's
 * auth and tenancy are the dashboard's. Strict CSP: nothing inline, nothing from elsewhere.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const ASSETS: Record<string, string> = {
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

/**
 * The built page: dist/web beside the compiled server (dist/server/routes → dist/web), or, when
 * the server runs from elsewhere (its sources in tests, a compiled copy of the benchmarks), the
 * nearest dist/web above it.
 */
function webRoot(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    for (const candidate of [join(dir, 'web'), join(dir, 'dist', 'web')]) {
      if (existsSync(join(candidate, 'assets', 'app.js')) && existsSync(join(candidate, 'index.html'))) return `${candidate}/`;
    }
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

function secure(reply: FastifyReply, type: string): FastifyReply {
  return reply
    .header('content-type', type)
    .header('content-security-policy', CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cache-control', 'no-cache');
}

export function registerDashboardRoutes(app: FastifyInstance): void {
  const root = webRoot();
  // Read once: three small files that change only with a new build.
  const files = new Map<string, Buffer>();
  const file = (name: string): Buffer | null => {
    if (!root) return null;
    let body = files.get(name);
    if (!body) files.set(name, (body = readFileSync(`${root}${name}`)));
    return body;
  };
  const notBuilt = new TetherError(ErrorCode.NOT_FOUND, 'the dashboard is not built: run `npm run build`');
  const tags = ['dashboard'];

  app.get(
    '/',
    { schema: { operationId: 'dashboard', summary: 'The dashboard (an HTML page; sign in with an API token)', tags, response: { 200: { description: 'The page.', content: { 'text/html': { schema: z.string() } } } } } },
    async (request, reply) => {
      const body = file('index.html');
      if (!body) return sendError(request, reply, notBuilt);
      return secure(reply, 'text/html; charset=utf-8').send(body);
    },
  );

  app.get(
    '/assets/:name',
    {
      schema: {
        operationId: 'dashboardAsset',
        summary: "The dashboard's script and stylesheet",
        tags,
        params: z.object({ name: z.string().describe('app.js or app.css') }),
        response: { 200: { description: 'The asset.', content: { 'text/javascript': { schema: z.string() }, 'text/css': { schema: z.string() } } } },
      },
    },
    async (request, reply) => {
      const { name } = request.params as { name: string };
      const type = Object.hasOwn(ASSETS, name) ? ASSETS[name]! : null;
      const body = type ? file(`assets/${name}`) : null;
      if (!type || !body) return sendError(request, reply, type ? notBuilt : new TetherError(ErrorCode.NOT_FOUND, `no dashboard asset ${name}`));
      return secure(reply, type).send(body);
    },
  );
}
