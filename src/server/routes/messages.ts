import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { SendOptions, TurnHandle } from '../../broker/api.js';
import { validateKey } from '../../domain/keys.js';
import {
  acceptedTurnSchema,
  continueBodySchema,
  regenerateBodySchema,
  sendMessageBodySchema,
  sendMessageQuerySchema,
  turnCompletedSchema,
  type SendMessageQuery,
  type SessionOptionsBody,
} from '../schemas.js';
import type { ZodTypeProvider } from '../type-provider.js';
import type { RouteContext } from './context.js';
import { errors, keyParams, sseStream, type ErrorStatus } from './docs.js';
import { streamTurnEvents } from './turns.js';

/** Whether the client asked for SSE (`Accept: text/event-stream`, among others or alone). */
export function acceptsEventStream(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.trim().toLowerCase().split(';');
    // `text/event-stream;q=0` is an explicit refusal.
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return type?.trim() === 'text/event-stream' && (q === undefined || Number(q.slice(2)) > 0);
  });
}

/** The body's session options as the library takes them (nothing undefined passed on). */
function sendOptionsOf(options: SessionOptionsBody): SendOptions {
  const out: SendOptions = {};
  for (const [name, value] of Object.entries(options)) {
    if (value !== undefined) (out as Record<string, unknown>)[name] = value;
  }
  return out;
}

/**
 * The options of a route that runs a turn (messages, regenerate, continue): they answer alike —
 * JSON when the turn ends, SSE as it runs (Accept: text/event-stream), or 202 at once with ?async=1.
 */
function turnRoute<B extends z.ZodType>(doc: { operationId: string; summary: string; body: B; errors: ErrorStatus[] }) {
  const schema = {
    operationId: doc.operationId,
    summary: doc.summary,
    tags: ['messages'],
    params: keyParams,
    querystring: sendMessageQuerySchema,
    headers: z.object({ Accept: z.string().describe('`text/event-stream` streams the turn as SSE; otherwise the answer is JSON.').optional() }),
    body: doc.body,
    response: {
      200: {
        description: 'The turn.completed payload (JSON), or the SSE stream of the turn with Accept: text/event-stream.',
        content: { 'application/json': { schema: turnCompletedSchema }, 'text/event-stream': { schema: sseStream } },
      },
      202: {
        description: 'With ?async=1: the turn is journaled and will run; poll its Location.',
        headers: { Location: { description: '/v1/turns/{turnId}' } },
        content: { 'application/json': { schema: acceptedTurnSchema } },
      },
      ...errors(...doc.errors),
    },
  };
  return { exposeHeadRoute: false, schema };
}

/**
 * `POST /v1/sessions/:key/messages`: one prompt, answered three ways — SSE of the turn's events
 * (`Accept: text/event-stream`), 202 once journaled (`?async=1`), or the turn.completed payload
 * when the turn ends. A refusal (busy, full, invalid) is always a plain JSON error, never a stream.
 * `POST /v1/sessions/:key/regenerate` runs the key's last prompt again, and `…/continue` lets the
 * agent go on without new text; both answer the same ways.
 */
export function registerMessageRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.post(
    '/v1/sessions/:key/messages',
    turnRoute({
      operationId: 'sendMessage',
      summary: "Send a prompt to the key's conversation (creating the session on first use)",
      body: sendMessageBodySchema,
      errors: [400, 403, 409, 413, 415, 429, 502, 503],
    }),
    async (request, reply) => {
      const key = validateKey(request.params.key);
      const { body } = request;
      const options = ctx.limits.check(body.prompt, body.options);
      // Not tied to the request: a client that goes away does not cancel its turn.
      const handle = ctx.tether.send(key, body.prompt, {
        ...sendOptionsOf(options),
        tenant: request.tenant,
        ...(body.onBusy ? { onBusy: body.onBusy } : {}),
      });
      return answerTurn(ctx, request, reply, handle, request.query);
    },
  );

  routes.post(
    '/v1/sessions/:key/regenerate',
    turnRoute({
      operationId: 'regenerateReply',
      summary: "Run the key's last prompt again from the point before it, as a new turn in place of its reply",
      // No body at all is the same as `{}`.
      body: regenerateBodySchema.optional(),
      errors: [400, 403, 404, 409, 415, 429, 502, 503],
    }),
    async (request, reply) => answerTurn(ctx, request, reply, ctx.tether.regenerate(validateKey(request.params.key), { tenant: request.tenant }), request.query),
  );

  routes.post(
    '/v1/sessions/:key/continue',
    turnRoute({
      operationId: 'continueTurn',
      summary: 'A turn that lets the agent go on where it stopped, without new user text (Claude Code is sent `continue`)',
      body: continueBodySchema.optional(),
      errors: [400, 403, 404, 409, 415, 429, 502, 503],
    }),
    async (request, reply) => {
      const key = validateKey(request.params.key);
      const onBusy = request.body?.onBusy;
      return answerTurn(ctx, request, reply, ctx.tether.continue(key, { tenant: request.tenant, ...(onBusy ? { onBusy } : {}) }), request.query);
    },
  );
}

/**
 * The three answers to a turn: 202 once journaled, its SSE stream (the reply is hijacked, so
 * nothing is returned), or its turn.completed payload.
 */
async function answerTurn(ctx: RouteContext, request: { headers: { accept?: string | undefined }; tenant: string }, reply: FastifyReply, handle: TurnHandle, query: SendMessageQuery) {
  if (query.async === '1' || query.async === 'true') {
    const accepted = await handle.accepted;
    void reply.code(202).header('location', `/v1/turns/${encodeURIComponent(accepted.turnId)}`);
    return { turnId: accepted.turnId, sessionId: accepted.sessionId, seq: accepted.seq, status: 'queued' as const };
  }
  if (acceptsEventStream(request.headers.accept)) {
    const accepted = await handle.accepted;
    // turn.queued was logged when the turn was accepted, so the stream starts with it.
    await streamTurnEvents(ctx, reply, accepted.turnId, request.tenant, 0);
    return undefined;
  }
  return handle.result;
}
