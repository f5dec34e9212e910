import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sessionToJSON, turnToJSON } from '../../domain/json.js';
import { parseLabel, splitMetaPair } from '../../domain/keys.js';
import { PERMISSION_MODES, type Labels } from '../../domain/types.js';
import { ErrorCode, TetherError, invalidInput } from '../../errors.js';
import { forkBodySchema, importBodySchema, listSessionsQuerySchema, listTurnsQuerySchema, sessionUpdateBodySchema, type SessionOptionsBody } from '../schemas.js';
import { keyOf, parse, type RouteContext } from './context.js';

/**
 * Repeated `name=value` query parameters as a record (`?label=a=1&label=b=2` → `{ a: '1', b: '2' }`);
 * `parsePair` checks one pair (labels are strict about names, metadata filters less so). A name
 * given twice with two values is refused.
 */
function pairsOf(value: string | string[] | undefined, parsePair: (pair: string) => [string, string]): Labels | undefined {
  if (value === undefined) return undefined;
  // A Map, so names such as `constructor` or `__proto__` are names like any other.
  const pairs = new Map<string, string>();
  for (const pair of Array.isArray(value) ? value : [value]) {
    const [name, v] = parsePair(pair);
    if (pairs.has(name) && pairs.get(name) !== v) throw invalidInput(`"${name}" is given twice with different values (label= or meta=)`);
    pairs.set(name, v);
  }
  return Object.fromEntries(pairs);
}

/** `k=v` of a metadata filter: any printable name up to 64 characters, a string value. */
function parseMetaPair(pair: string): [string, string] {
  const split = splitMetaPair(pair);
  if (!split) throw invalidInput(`meta filter ${JSON.stringify(pair)} must be name=value`);
  return split;
}

/**
 * What a bundle's session would ask of this machine: its working directory and permission mode,
 * where it names them (the broker validates the rest of the bundle).
 */
function bundleSettings(bundle: unknown): SessionOptionsBody {
  const config = (bundle as { session?: { config?: { cwd?: unknown; permissionMode?: unknown } } } | null)?.session?.config;
  const mode = PERMISSION_MODES.find((m) => m === config?.permissionMode);
  return { ...(typeof config?.cwd === 'string' ? { cwd: config.cwd } : {}), ...(mode !== undefined ? { permissionMode: mode } : {}) };
}

const notFound = (key: string): TetherError => new TetherError(ErrorCode.NOT_FOUND, `no session for key ${JSON.stringify(key)}`);

/** Sessions of the caller's tenant: list, show, update, delete, turns, reset, fork, export, import, compact, interrupt. */
export function registerSessionRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { tether } = ctx;
  const scope = (request: FastifyRequest) => ({ tenant: request.tenant });

  app.get('/v1/sessions', async (request) => {
    const query = parse(listSessionsQuerySchema, request.query, 'query');
    const labels = pairsOf(query.label, parseLabel);
    const metadata = pairsOf(query.meta, parseMetaPair);
    const sessions = await tether.list({
      tenant: request.tenant,
      ...(query.status ? { status: query.status } : {}),
      ...(labels ? { labels } : {}),
      ...(metadata ? { metadata } : {}),
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

  app.patch('/v1/sessions/:key', async (request) => {
    const body = parse(sessionUpdateBodySchema, request.body, 'body');
    if (body.permissionMode) ctx.limits.checkSettings({ permissionMode: body.permissionMode });
    return sessionToJSON(await tether.update(keyOf(request), body, scope(request)));
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

  app.post('/v1/sessions/:key/fork', async (request) => {
    const body = parse(forkBodySchema, request.body, 'body');
    return sessionToJSON(await tether.fork(keyOf(request), body.newKey, { ...scope(request), ...(body.atTurn !== undefined ? { atTurn: body.atTurn } : {}), ...(body.replace ? { replace: true } : {}) }));
  });

  app.get('/v1/sessions/:key/export', async (request) => tether.export(keyOf(request), scope(request)));

  app.post('/v1/sessions/import', async (request) => {
    const body = parse(importBodySchema, request.body, 'body');
    // The agent runs in the imported cwd and permission mode: the server's limits apply, as for a message.
    const checked = ctx.limits.checkSettings({ ...bundleSettings(body.bundle), ...(body.cwd !== undefined ? { cwd: body.cwd } : {}) });
    return sessionToJSON(
      await tether.import(body.bundle, {
        ...scope(request),
        ...(body.key !== undefined ? { key: body.key } : {}),
        ...(body.replace ? { replace: true } : {}),
        ...(checked.cwd !== undefined ? { cwd: checked.cwd } : {}),
      }),
    );
  });

  app.post('/v1/sessions/:key/compact', async (request) => tether.compact(keyOf(request), scope(request)));

  app.post('/v1/sessions/:key/interrupt', async (request) => {
    const key = keyOf(request);
    if (!(await tether.get(key, scope(request)))) throw notFound(key);
    const { turnId } = await tether.interrupt(key, scope(request));
    return { interrupted: turnId !== null, turnId };
  });
}
