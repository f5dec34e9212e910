import { readFileSync } from 'node:fs';
import { z } from 'zod';
import {
  acceptedTurnSchema,
  errorResponseSchema,
  healthResponseSchema,
  compactResponseSchema,
  forkBodySchema,
  importBodySchema,
  bundleResponseSchema,
  sessionUpdateBodySchema,
  interruptResponseSchema,
  listSessionsQuerySchema,
  listTurnsQuerySchema,
  readinessResponseSchema,
  continueBodySchema,
  regenerateBodySchema,
  sendMessageBodySchema,
  sendMessageQuerySchema,
  sessionSchema,
  sessionsResponseSchema,
  statsResponseSchema,
  turnCompletedSchema,
  turnEventsQuerySchema,
  turnSchema,
  turnsResponseSchema,
} from './schemas.js';

type Json = Record<string, unknown>;
type Method = 'get' | 'post' | 'patch' | 'delete';

interface ResponseSpec {
  description: string;
  /** JSON body schema; absent for no body. */
  schema?: z.ZodType;
  /** Other media types this status may carry. */
  streams?: boolean;
  text?: boolean;
  headers?: Record<string, { description: string }>;
}

/** One route of the API as documented. The app's route list and this table are tested to match. */
export interface OperationSpec {
  method: Method;
  /** OpenAPI path template, e.g. `/v1/sessions/{key}`. */
  path: string;
  operationId: string;
  summary: string;
  tag: 'messages' | 'sessions' | 'turns' | 'events' | 'ops';
  /** Needs a bearer token when the server has tokens. */
  auth: boolean;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Extra header parameters. */
  headers?: Array<{ name: string; description: string }>;
  responses: Record<number, ResponseSpec>;
  /** Error statuses this route may answer (all with the Error body). */
  errors: number[];
}

const AUTH_ERRORS = [401];
const SSE_DESCRIPTION =
  'Server-Sent Events: one TetherEvent per event; `event:` is its type, `data:` its JSON, `id:` its per-turn sequence number (resume with Last-Event-ID). ' +
  'Comment lines (`: keep-alive`) keep idle connections open. A failure after the stream began arrives as `event: error` with the Error body.';

/**
 * A route that runs a turn (messages, regenerate, continue): they answer alike — JSON when the
 * turn ends, SSE as it runs (Accept: text/event-stream), or 202 at once with ?async=1.
 */
function turnOperation(op: Pick<OperationSpec, 'path' | 'operationId' | 'summary' | 'body' | 'errors'>): OperationSpec {
  return {
    method: 'post',
    tag: 'messages',
    auth: true,
    query: sendMessageQuerySchema,
    headers: [{ name: 'Accept', description: '`text/event-stream` streams the turn as SSE; otherwise the answer is JSON.' }],
    responses: {
      200: { description: 'The turn.completed payload (JSON), or the SSE stream of the turn with Accept: text/event-stream.', schema: turnCompletedSchema, streams: true },
      202: {
        description: 'With ?async=1: the turn is journaled and will run; poll its Location.',
        schema: acceptedTurnSchema,
        headers: { Location: { description: '/v1/turns/{turnId}' } },
      },
    },
    ...op,
  };
}

/** Every route of the daemon, as documented in /openapi.json. */
export const OPERATIONS: readonly OperationSpec[] = [
  turnOperation({
    path: '/v1/sessions/{key}/messages',
    operationId: 'sendMessage',
    summary: "Send a prompt to the key's conversation (creating the session on first use)",
    body: sendMessageBodySchema,
    errors: [400, 403, 409, 413, 415, 429, 502, 503],
  }),
  turnOperation({
    path: '/v1/sessions/{key}/regenerate',
    operationId: 'regenerateReply',
    summary: "Run the key's last prompt again from the point before it, as a new turn in place of its reply",
    body: regenerateBodySchema,
    errors: [400, 403, 404, 409, 415, 429, 502, 503],
  }),
  turnOperation({
    path: '/v1/sessions/{key}/continue',
    operationId: 'continueTurn',
    summary: 'A turn that lets the agent go on where it stopped, without new user text (Claude Code is sent `continue`)',
    body: continueBodySchema,
    errors: [400, 403, 404, 409, 415, 429, 502, 503],
  }),
  {
    method: 'get',
    path: '/v1/sessions',
    operationId: 'listSessions',
    summary: "The caller's sessions, newest activity first",
    tag: 'sessions',
    auth: true,
    query: listSessionsQuerySchema,
    responses: { 200: { description: 'Sessions.', schema: sessionsResponseSchema } },
    errors: [400],
  },
  {
    method: 'get',
    path: '/v1/sessions/{key}',
    operationId: 'getSession',
    summary: "The key's current (or latest) session",
    tag: 'sessions',
    auth: true,
    responses: { 200: { description: 'The session.', schema: sessionSchema } },
    errors: [400, 404],
  },
  {
    method: 'patch',
    path: '/v1/sessions/{key}',
    operationId: 'updateSession',
    summary: "Change the key's live session for its next turns: model, permission mode (switched in the live agent at the next turn), labels, metadata (null removes)",
    tag: 'sessions',
    auth: true,
    body: sessionUpdateBodySchema,
    responses: { 200: { description: 'The session as changed.', schema: sessionSchema } },
    errors: [400, 403, 404, 429],
  },
  {
    method: 'delete',
    path: '/v1/sessions/{key}',
    operationId: 'deleteSession',
    summary: 'Remove the key with its history',
    tag: 'sessions',
    auth: true,
    responses: { 204: { description: 'Removed.' } },
    errors: [400, 404, 409],
  },
  {
    method: 'get',
    path: '/v1/sessions/{key}/turns',
    operationId: 'listTurns',
    summary: 'Turns of the key, oldest first, across generations',
    tag: 'sessions',
    auth: true,
    query: listTurnsQuerySchema,
    responses: { 200: { description: 'Turns.', schema: turnsResponseSchema } },
    errors: [400, 404],
  },
  {
    method: 'post',
    path: '/v1/sessions/{key}/reset',
    operationId: 'resetSession',
    summary: "Close the key's current session; its next message starts a new generation",
    tag: 'sessions',
    auth: true,
    responses: { 200: { description: 'The closed session.', schema: sessionSchema } },
    errors: [400, 404, 409],
  },
  {
    method: 'post',
    path: '/v1/sessions/{key}/fork',
    operationId: 'forkSession',
    summary: "A new session under newKey whose conversation starts as a copy of the key's (up to turn atTurn); the source is untouched",
    tag: 'sessions',
    auth: true,
    body: forkBodySchema,
    responses: { 200: { description: 'The new session.', schema: sessionSchema } },
    errors: [400, 404, 409, 429, 503],
  },
  {
    method: 'get',
    path: '/v1/sessions/{key}/export',
    operationId: 'exportSession',
    summary: "The key's session as a portable bundle: record, ended turns, transcript (versioned JSON)",
    tag: 'sessions',
    auth: true,
    responses: { 200: { description: 'The bundle.', schema: bundleResponseSchema } },
    errors: [400, 404],
  },
  {
    method: 'post',
    path: '/v1/sessions/import',
    operationId: 'importSession',
    summary: 'Recreate a session from a bundle (under its key or another); refused over a live key unless replace',
    tag: 'sessions',
    auth: true,
    body: importBodySchema,
    responses: { 200: { description: 'The imported session.', schema: sessionSchema } },
    errors: [400, 403, 409, 413, 429],
  },
  {
    method: 'post',
    path: '/v1/sessions/{key}/compact',
    operationId: 'compactSession',
    summary: "Compact the key's conversation (the agent's /compact): a turn in the journal, and session.compacted",
    tag: 'sessions',
    auth: true,
    responses: { 200: { description: 'Context tokens before and after.', schema: compactResponseSchema } },
    errors: [400, 404, 409, 429, 502, 503],
  },
  {
    method: 'post',
    path: '/v1/sessions/{key}/interrupt',
    operationId: 'interruptSession',
    summary: "Stop the key's running turn (journaled interrupted)",
    tag: 'sessions',
    auth: true,
    responses: { 200: { description: 'Whether a turn was running here, and its id.', schema: interruptResponseSchema } },
    errors: [400, 404],
  },
  {
    method: 'get',
    path: '/v1/turns/{id}',
    operationId: 'getTurn',
    summary: 'One turn from the journal',
    tag: 'turns',
    auth: true,
    responses: { 200: { description: 'The turn.', schema: turnSchema } },
    errors: [404],
  },
  {
    method: 'get',
    path: '/v1/turns/{id}/events',
    operationId: 'turnEvents',
    summary: "A turn's events after Last-Event-ID (or ?after=), then live ones until it ends",
    tag: 'turns',
    auth: true,
    query: turnEventsQuerySchema,
    headers: [{ name: 'Last-Event-ID', description: 'The `id:` of the last event received; the stream resumes after it.' }],
    responses: { 200: { description: SSE_DESCRIPTION, streams: true } },
    errors: [400, 404],
  },
  {
    method: 'get',
    path: '/v1/events',
    operationId: 'tailEvents',
    summary: "Every event of the caller's tenant as it happens (SSE; ids count per connection)",
    tag: 'events',
    auth: true,
    responses: { 200: { description: 'Server-Sent Events of every TetherEvent of the tenant, with keep-alive comments.', streams: true } },
    errors: [],
  },
  {
    method: 'get',
    path: '/v1/stats',
    operationId: 'stats',
    summary: "Counts, totals, tokens and cost of the caller's tenant",
    tag: 'ops',
    auth: true,
    responses: { 200: { description: 'Statistics.', schema: statsResponseSchema } },
    errors: [],
  },
  {
    method: 'get',
    path: '/healthz',
    operationId: 'health',
    summary: 'Liveness: the process answers',
    tag: 'ops',
    auth: false,
    responses: { 200: { description: 'Alive.', schema: healthResponseSchema } },
    errors: [],
  },
  {
    method: 'get',
    path: '/readyz',
    operationId: 'ready',
    summary: 'Readiness: the store is reachable and the agent binary present',
    tag: 'ops',
    auth: false,
    responses: {
      200: { description: 'Ready.', schema: readinessResponseSchema },
      503: { description: 'Not ready (or shutting down).', schema: readinessResponseSchema },
    },
    errors: [],
  },
  {
    method: 'get',
    path: '/metrics',
    operationId: 'metrics',
    summary: 'Prometheus metrics',
    tag: 'ops',
    auth: false,
    responses: { 200: { description: 'Prometheus text exposition format.', text: true } },
    errors: [],
  },
  {
    method: 'get',
    path: '/openapi.json',
    operationId: 'openapi',
    summary: 'This document',
    tag: 'ops',
    auth: false,
    responses: { 200: { description: 'OpenAPI 3.1 document.', schema: z.looseObject({}) } },
    errors: [],
  },
];

const REF_PREFIX = '#/components/schemas/';

/** Rewrites zod's `#/$defs/X` references to the document's components. */
function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value === null || typeof value !== 'object') return value;
  const out: Json = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = k === '$ref' && typeof v === 'string' ? v.replace(/^#\/\$defs\//, REF_PREFIX) : rewriteRefs(v);
  }
  return out;
}

/**
 * One zod schema as an OpenAPI 3.1 Schema Object (JSON Schema 2020-12). Schemas carrying a
 * `.meta({ id })` go to `components` and are referenced, so each shape is written once.
 */
function schemaOf(schema: z.ZodType, components: Json): Json {
  // `input`: what a client sends, or may rely on receiving, without transforms or defaults.
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Json;
  const { $schema: _schema, $defs, ...rest } = json;
  for (const [id, def] of Object.entries(($defs ?? {}) as Json)) components[id] = rewriteRefs(def);
  return rewriteRefs(rest) as Json;
}

function parametersOf(op: OperationSpec, components: Json): Json[] {
  const params: Json[] = [];
  for (const name of op.path.match(/\{(\w+)\}/g) ?? []) {
    const param = name.slice(1, -1);
    params.push({
      name: param,
      in: 'path',
      required: true,
      description: param === 'key' ? 'The conversation key, URL-encoded as one path segment (1-256 printable characters).' : 'The turn id.',
      schema: param === 'key' ? { type: 'string', minLength: 1, maxLength: 256 } : { type: 'string' },
    });
  }
  for (const [name, field] of Object.entries(op.query?.shape ?? {})) {
    const schema = field as z.ZodType;
    params.push({
      name,
      in: 'query',
      required: !schema.safeParse(undefined).success,
      ...(name === 'label' ? { description: '`name=value`; repeat for several labels (all must match).' } : {}),
      schema: schemaOf(schema, components),
    });
  }
  for (const header of op.headers ?? []) params.push({ name: header.name, in: 'header', required: false, description: header.description, schema: { type: 'string' } });
  return params;
}

function responseOf(spec: ResponseSpec, components: Json): Json {
  const content: Json = {};
  if (spec.schema) content['application/json'] = { schema: schemaOf(spec.schema, components) };
  if (spec.streams) content['text/event-stream'] = { schema: { type: 'string', description: SSE_DESCRIPTION } };
  if (spec.text) content['text/plain'] = { schema: { type: 'string' } };
  return {
    description: spec.description,
    ...(spec.headers ? { headers: Object.fromEntries(Object.entries(spec.headers).map(([n, h]) => [n, { description: h.description, schema: { type: 'string' } }])) } : {}),
    ...(Object.keys(content).length > 0 ? { content } : {}),
  };
}

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'INVALID_INPUT: the request is malformed or a value is out of bounds.',
  401: 'UNAUTHORIZED: no token or an unknown one.',
  403: 'FORBIDDEN: not allowed on this server (cwd outside the allowed roots, bypassPermissions).',
  404: 'NOT_FOUND: no such key, turn or route (another tenant\'s are not found either).',
  409: 'SESSION_BUSY (onBusy: reject), or the turn was INTERRUPTED.',
  413: 'INVALID_INPUT: the body is larger than the limit.',
  415: 'INVALID_INPUT: the body is not application/json.',
  429: 'QUEUE_FULL or LIMIT_REACHED.',
  502: 'AGENT_FAILED: the agent ran and failed.',
  503: 'AGENT_UNAVAILABLE or STORE_UNAVAILABLE, or the server is shutting down.',
};

function packageVersion(): string {
  // src/server/ and dist/server/ both sit two levels below package.json.
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    if (typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string') return pkg.version;
  } catch {
    // A missing version must not keep the server from starting.
  }
  return '0.0.0';
}

/** The OpenAPI 3.1 document of the daemon, generated from schemas.ts and {@link OPERATIONS}. */
export function buildOpenApi(): Json {
  const components: Json = {};
  const errorSchema = schemaOf(errorResponseSchema, components);
  const paths: Record<string, Record<string, Json>> = {};
  for (const op of OPERATIONS) {
    const responses: Json = {};
    for (const [status, spec] of Object.entries(op.responses)) responses[status] = responseOf(spec, components);
    for (const status of [...op.errors, ...(op.auth ? AUTH_ERRORS : [])]) {
      responses[String(status)] = { description: ERROR_DESCRIPTIONS[status] ?? 'Error.', content: { 'application/json': { schema: errorSchema } } };
    }
    const parameters = parametersOf(op, components);
    const entry: Json = {
      operationId: op.operationId,
      summary: op.summary,
      tags: [op.tag],
      security: op.auth ? [{ bearer: [] }] : [],
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(op.body, components) } } } } : {}),
      responses,
    };
    (paths[op.path] ??= {})[op.method] = entry;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tether',
      version: packageVersion(),
      description: 'A session broker for coding-agent CLIs: durable Claude Code sessions behind keys. Errors are `{ "error": { "code", "message" } }`.',
    },
    tags: ['messages', 'sessions', 'turns', 'events', 'ops'].map((name) => ({ name })),
    paths,
    components: {
      schemas: components,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'A token of TETHER_TOKENS; its tenant scopes every key. Not required when the server runs without tokens (loopback only).' },
      },
    },
  };
}
