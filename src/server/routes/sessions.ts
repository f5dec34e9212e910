import type { FastifyInstance, FastifyRequest } from 'fastify';
import { sessionToJSON, turnToJSON } from '../../domain/json.js';
import { parseLabel, splitMetaPair, validateKey } from '../../domain/keys.js';
import { PERMISSION_MODES, type Labels } from '../../domain/types.js';
import { ErrorCode, TetherError, invalidInput } from '../../errors.js';
import {
  bundleResponseSchema,
  compactResponseSchema,
  emptyBodySchema,
  forkBodySchema,
  importBodySchema,
  interruptResponseSchema,
  listSessionsQuerySchema,
  listTurnsQuerySchema,
  noQuerySchema,
  sessionSchema,
  sessionUpdateBodySchema,
  sessionsResponseSchema,
  turnsResponseSchema,
  type SessionOptionsBody,
} from '../schemas.js';
import type { ZodTypeProvider } from '../type-provider.js';
import type { RouteContext } from './context.js';
import { errors, json, keyParams } from './docs.js';

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
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const scope = (request: FastifyRequest) => ({ tenant: request.tenant });
  const tags = ['sessions'];

  routes.get(
    '/v1/sessions',
    {
      schema: {
        operationId: 'listSessions',
        summary: "The caller's sessions, newest activity first",
        tags,
        querystring: listSessionsQuerySchema,
        response: { 200: json('Sessions.', sessionsResponseSchema), ...errors(400) },
      },
    },
    async (request) => {
      const { query } = request;
      const labels = pairsOf(query.label, parseLabel);
      const metadata = pairsOf(query.meta, parseMetaPair);
      const sessions = await tether.list({
        tenant: request.tenant,
        ...(query.status ? { status: query.status } : {}),
        ...(query.q ? { keyPrefix: query.q } : {}),
        ...(query.backend ? { backend: query.backend } : {}),
        ...(labels ? { labels } : {}),
        ...(metadata ? { metadata } : {}),
        ...(query.limit !== undefined ? { limit: query.limit } : {}),
        ...(query.offset !== undefined ? { offset: query.offset } : {}),
      });
      return { sessions: sessions.map(sessionToJSON) };
    },
  );

  routes.get(
    '/v1/sessions/:key',
    {
      schema: {
        operationId: 'getSession',
        summary: "The key's current (or latest) session",
        tags,
        params: keyParams,
        querystring: noQuerySchema,
        response: { 200: json('The session.', sessionSchema), ...errors(400, 404) },
      },
    },
    async (request) => {
      const key = validateKey(request.params.key);
      const session = await tether.get(key, scope(request));
      if (!session) throw notFound(key);
      return sessionToJSON(session);
    },
  );

  routes.patch(
    '/v1/sessions/:key',
    {
      schema: {
        operationId: 'updateSession',
        summary: "Change the key's live session for its next turns: model, permission mode (switched in the live agent at the next turn), labels, metadata (null removes)",
        tags,
        params: keyParams,
        querystring: noQuerySchema,
        body: sessionUpdateBodySchema,
        response: { 200: json('The session as changed.', sessionSchema), ...errors(400, 403, 404, 429) },
      },
    },
    async (request) => {
      const { body } = request;
      if (body.permissionMode) ctx.limits.checkSettings({ permissionMode: body.permissionMode });
      return sessionToJSON(await tether.update(validateKey(request.params.key), body, scope(request)));
    },
  );

  routes.delete(
    '/v1/sessions/:key',
    {
      schema: {
        operationId: 'deleteSession',
        summary: 'Remove the key with its history',
        tags,
        params: keyParams,
        querystring: noQuerySchema,
        body: emptyBodySchema.optional(),
        response: { 204: { description: 'Removed.' }, ...errors(400, 404, 409) },
      },
    },
    async (request, reply) => {
      await tether.delete(validateKey(request.params.key), scope(request));
      return reply.code(204).send();
    },
  );

  routes.get(
    '/v1/sessions/:key/turns',
    {
      schema: {
        operationId: 'listTurns',
        summary: 'Turns of the key, oldest first, across generations',
        tags,
        params: keyParams,
        querystring: listTurnsQuerySchema,
        response: { 200: json('Turns.', turnsResponseSchema), ...errors(400, 404) },
      },
    },
    async (request) => {
      const key = validateKey(request.params.key);
      const { limit } = request.query;
      // An empty list would not tell a key without history from a mistyped one.
      if (!(await tether.get(key, scope(request)))) throw notFound(key);
      const turns = await tether.turns(key, { ...scope(request), ...(limit !== undefined ? { limit } : {}) });
      return { turns: turns.map(turnToJSON) };
    },
  );

  routes.post(
    '/v1/sessions/:key/reset',
    {
      schema: {
        operationId: 'resetSession',
        summary: "Close the key's current session; its next message starts a new generation",
        tags,
        params: keyParams,
        querystring: noQuerySchema,
        body: emptyBodySchema.optional(),
        response: { 200: json('The closed session.', sessionSchema), ...errors(400, 404, 409) },
      },
    },
    async (request) => sessionToJSON(await tether.reset(validateKey(request.params.key), scope(request))),
  );

  routes.post(
    '/v1/sessions/:key/fork',
    {
      schema: {
        operationId: 'forkSession',
        summary: "A new session under newKey whose conversation starts as a copy of the key's (up to turn atTurn); the source is untouched",
        tags,
        params: keyParams,
        querystring: noQuerySchema,
        body: forkBodySchema,
        response: { 200: json('The new session.', sessionSchema), ...errors(400, 404, 409, 429, 503) },
      },
    },
    async (request) => {
      const { body } = request;
      return sessionToJSON(
        await tether.fork(validateKey(request.params.key), body.newKey, {
          ...scope(request),
          ...(body.atTurn !== undefined ? { atTurn: body.atTurn } : {}),
          ...(body.replace ? { replace: true } : {}),
        }),
      );
    },
  );

  routes.get(
    '/v1/sessions/:key/export',
    {
      schema: {
        operationId: 'exportSession',
        summary: "The key's session as a portable bundle: record, ended turns, transcript (versioned JSON)",
        tags,
        params: keyParams,
        querystring: noQuerySchema,
        response: { 200: json('The bundle.', bundleResponseSchema), ...errors(400, 404) },
      },
    },
    async (request) => tether.export(validateKey(request.params.key), scope(request)),
  );

  routes.post(
    '/v1/sessions/import',
    {
      schema: {
        operationId: 'importSession',
        summary: 'Recreate a session from a bundle (under its key or another); refused over a live key unless replace',
        tags,
        querystring: noQuerySchema,
        body: importBodySchema,
        response: { 200: json('The imported session.', sessionSchema), ...errors(400, 403, 409, 413, 429) },
      },
    },
    async (request) => {
      const { body } = request;
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
    },
  );

  routes.post(
    '/v1/sessions/:key/compact',
    {
      schema: {
        operationId: 'compactSession',
        summary: "Compact the key's conversation (the agent's /compact): a turn in the journal, and session.compacted",
        tags,
        params: keyParams,
        querystring: noQuerySchema,
        body: emptyBodySchema.optional(),
        response: { 200: json('Context tokens before and after.', compactResponseSchema), ...errors(400, 404, 409, 429, 502, 503) },
      },
    },
    async (request) => tether.compact(validateKey(request.params.key), scope(request)),
  );

  routes.post(
    '/v1/sessions/:key/interrupt',
    {
      schema: {
        operationId: 'interruptSession',
        summary: "Stop the key's running turn (journaled interrupted)",
        tags,
        params: keyParams,
        querystring: noQuerySchema,
        body: emptyBodySchema.optional(),
        response: { 200: json('Whether a turn was running here, and its id.', interruptResponseSchema), ...errors(400, 404) },
      },
    },
    async (request) => {
      const key = validateKey(request.params.key);
      if (!(await tether.get(key, scope(request)))) throw notFound(key);
      const { turnId } = await tether.interrupt(key, scope(request));
      return { interrupted: turnId !== null, turnId };
    },
  );
}
