import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sessionToJSON, turnToJSON } from '../../domain/json.js';
import { parseLabel } from '../../domain/keys.js';
import type { Labels } from '../../domain/types.js';
import { ErrorCode, TetherError, invalidInput } from '../../errors.js';
import { listSessionsQuerySchema, listTurnsQuerySchema } from '../schemas.js';
import { keyOf, parse, type RouteContext } from './context.js';

/** `?label=a=1&label=b=2` → `{ a: '1', b: '2' }`. */
function labelsOf(value: string | string[] | undefined): Labels | undefined {
  if (value === undefined) return undefined;
  const labels: Labels = {};
  for (const pair of Array.isArray(value) ? value : [value]) {
    const [name, v] = parseLabel(pair);
    if (name in labels && labels[name] !== v) throw invalidInput(`label "${name}" is given twice with different values`);
    labels[name] = v;
  }
  return labels;
}

const notFound = (key: string): TetherError => new TetherError(ErrorCode.NOT_FOUND, `no session for key ${JSON.stringify(key)}`);

/** Sessions of the caller's tenant: list, show, delete, turns, reset, interrupt. */
export function registerSessionRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { tether } = ctx;
  const scope = (request: FastifyRequest) => ({ tenant: request.tenant });

  app.get('/v1/sessions', async (request) => {
    const query = parse(listSessionsQuerySchema, request.query, 'query');
    const labels = labelsOf(query.label);
    const sessions = await tether.list({
      tenant: request.tenant,
      ...(query.status ? { status: query.status } : {}),
      ...(labels ? { labels } : {}),
      ...(query.limit !== undefined ? { limit: query.limit } : {}),
      ...(query.offset !== undefined ? { offset: query.offset } : {}),
    });
    return { sessions: sessions.map(sessionToJSON) };
  });

  app.get('/v1/sessions/:key', async (request) => {
    const key = keyOf(request);
    const session = await tether.get(key, scope(request));
    if (!session) throw notFound(key);
    return sessionToJSON(session);
  });

  app.delete('/v1/sessions/:key', async (request, reply) => {
    await tether.delete(keyOf(request), scope(request));
    return reply.code(204).send();
  });

  app.get('/v1/sessions/:key/turns', async (request) => {
    const key = keyOf(request);
    const query = parse(listTurnsQuerySchema, request.query, 'query');
    // An empty list would not tell a key without history from a mistyped one.
    if (!(await tether.get(key, scope(request)))) throw notFound(key);
    const turns = await tether.turns(key, { ...scope(request), ...(query.limit !== undefined ? { limit: query.limit } : {}) });
    return { turns: turns.map(turnToJSON) };
  });

  app.post('/v1/sessions/:key/reset', async (request) => sessionToJSON(await tether.reset(keyOf(request), scope(request))));

  app.post('/v1/sessions/:key/interrupt', async (request) => {
    const key = keyOf(request);
    if (!(await tether.get(key, scope(request)))) throw notFound(key);
    const { turnId } = await tether.interrupt(key, scope(request));
    return { interrupted: turnId !== null, turnId };
  });
}
