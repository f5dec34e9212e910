import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SendOptions, TurnHandle } from '../../broker/api.js';
import { continueBodySchema, regenerateBodySchema, sendMessageBodySchema, sendMessageQuerySchema, type SendMessageQuery, type SessionOptionsBody } from '../schemas.js';
import { keyOf, parse, type RouteContext } from './context.js';
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
 * `POST /v1/sessions/:key/messages`: one prompt, answered three ways — SSE of the turn's events
 * (`Accept: text/event-stream`), 202 once journaled (`?async=1`), or the turn.completed payload
 * when the turn ends. A refusal (busy, full, invalid) is always a plain JSON error, never a stream.
 * `POST /v1/sessions/:key/regenerate` runs the key's last prompt again, and `…/continue` lets the
 * agent go on without new text; both answer the same ways.
 */
export function registerMessageRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.post('/v1/sessions/:key/messages', { exposeHeadRoute: false }, async (request, reply) => {
    const key = keyOf(request);
    const query = parse(sendMessageQuerySchema, request.query, 'query');
    const body = parse(sendMessageBodySchema, request.body, 'body');
    const options = ctx.limits.check(body.prompt, body.options);
    // Not tied to the request: a client that goes away does not cancel its turn.
    const handle = ctx.tether.send(key, body.prompt, {
      ...sendOptionsOf(options),
      tenant: request.tenant,
      ...(body.onBusy ? { onBusy: body.onBusy } : {}),
    });
    return answerTurn(ctx, request, reply, handle, query);
  });

  app.post('/v1/sessions/:key/regenerate', { exposeHeadRoute: false }, async (request, reply) => {
    const key = keyOf(request);
    const query = parse(sendMessageQuerySchema, request.query, 'query');
    parse(regenerateBodySchema, request.body ?? {}, 'body');
    return answerTurn(ctx, request, reply, ctx.tether.regenerate(key, { tenant: request.tenant }), query);
  });

  app.post('/v1/sessions/:key/continue', { exposeHeadRoute: false }, async (request, reply) => {
    const key = keyOf(request);
    const query = parse(sendMessageQuerySchema, request.query, 'query');
    const body = parse(continueBodySchema, request.body ?? {}, 'body');
    return answerTurn(ctx, request, reply, ctx.tether.continue(key, { tenant: request.tenant, ...(body.onBusy ? { onBusy: body.onBusy } : {}) }), query);
  });
}

/** The three answers to a turn: 202 once journaled, its SSE stream, or its turn.completed payload. */
async function answerTurn(ctx: RouteContext, request: FastifyRequest, reply: FastifyReply, handle: TurnHandle, query: SendMessageQuery): Promise<unknown> {
  if (query.async === '1' || query.async === 'true') {
    const accepted = await handle.accepted;
    return reply
      .code(202)
      .header('location', `/v1/turns/${encodeURIComponent(accepted.turnId)}`)
      .send({ turnId: accepted.turnId, sessionId: accepted.sessionId, seq: accepted.seq, status: 'queued' as const });
  }
  if (acceptsEventStream(request.headers.accept)) {
    const accepted = await handle.accepted;
    // turn.queued was logged when the turn was accepted, so the stream starts with it.
    await streamTurnEvents(ctx, reply, accepted.turnId, request.tenant, 0);
    return reply;
  }
  return handle.result;
}
