import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { approvalToJSON, turnToJSON } from '../../domain/json.js';
import { ErrorCode, TetherError } from '../../errors.js';
import { toHttpError } from '../errors.js';
import { noQuerySchema, turnEventsQuerySchema, turnSchema } from '../schemas.js';
import type { ZodTypeProvider } from '../type-provider.js';
import type { RouteContext } from './context.js';
import { SSE_DESCRIPTION, errors, json, sseStream, turnIdParams } from './docs.js';

/** Turn ids are UUIDs; anything much longer is not one and need not reach the store. */
const MAX_TURN_ID = 128;

/**
 * Streams a turn's events as SSE: `id:` is the event's per-turn seq (omitted for an outcome
 * rebuilt from the journal, which has none), `event:` its type. Ends after turn.completed or
 * turn.failed. A client that disconnects stops only this stream, never the turn.
 */
export async function streamTurnEvents(ctx: RouteContext, reply: FastifyReply, turnId: string, tenant: string, afterSeq: number): Promise<void> {
  const stream = ctx.sse.open(reply, 'turn');
  try {
    for await (const { seq, event } of ctx.tether.turnEvents(turnId, { tenant, afterSeq, signal: stream.signal })) {
      if (!(await stream.send(event.type, event, seq > 0 ? seq : undefined))) break;
    }
  } catch (err) {
    // Headers are gone already: the failure travels as an event of its own.
    if (!stream.closed) {
      const mapped = toHttpError(err);
      if (mapped.internal) reply.log.error({ err, turnId }, 'turn event stream failed');
      await stream.send('error', mapped.body);
    }
  } finally {
    stream.end();
  }
}

/** `Last-Event-ID` wins over `?after=`: it is what a reconnecting EventSource sends. */
function afterSeqOf(header: string | string[] | undefined, query: { after?: number | undefined }): number {
  const raw = Array.isArray(header) ? header[0] : header;
  if (raw !== undefined && raw.trim() !== '') {
    const n = Number(raw.trim());
    if (!Number.isSafeInteger(n) || n < 0) throw new TetherError(ErrorCode.INVALID_INPUT, 'Last-Event-ID must be a non-negative integer (the seq of the last event received)');
    return n;
  }
  return query.after ?? 0;
}

/** `GET /v1/turns/:id` and `GET /v1/turns/:id/events`. Another tenant's turn is a 404, like a missing one. */
export function registerTurnRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const turnOf = async (id: string, tenant: string) => {
    const turn = id.length > 0 && id.length <= MAX_TURN_ID ? await ctx.tether.getTurn(id, { tenant }) : null;
    if (!turn) throw new TetherError(ErrorCode.NOT_FOUND, `no turn ${id.slice(0, MAX_TURN_ID)}`);
    return turn;
  };

  routes.get(
    '/v1/turns/:id',
    {
      schema: {
        operationId: 'getTurn',
        summary: 'One turn from the journal',
        tags: ['turns'],
        params: turnIdParams,
        querystring: noQuerySchema,
        response: { 200: json('The turn.', turnSchema), ...errors(400, 404) },
      },
    },
    async (request) => {
      const turn = await turnOf(request.params.id, request.tenant);
      if (turn.status !== 'running') return turnToJSON(turn);
      const pending = await ctx.tether.approvals({ tenant: request.tenant, turnId: turn.id, status: 'pending' });
      return { ...turnToJSON(turn), approvals: pending.map(approvalToJSON) };
    },
  );

  routes.get(
    '/v1/turns/:id/events',
    {
      exposeHeadRoute: false,
      schema: {
        operationId: 'turnEvents',
        summary: "A turn's events after Last-Event-ID (or ?after=), then live ones until it ends",
        tags: ['turns'],
        params: turnIdParams,
        querystring: turnEventsQuerySchema,
        headers: z.object({ 'Last-Event-ID': z.string().describe('The `id:` of the last event received; the stream resumes after it.').optional() }),
        response: { 200: { description: SSE_DESCRIPTION, content: { 'text/event-stream': { schema: sseStream } } }, ...errors(400, 404) },
      },
    },
    async (request, reply) => {
      const afterSeq = afterSeqOf(request.headers['last-event-id'], request.query);
      const turn = await turnOf(request.params.id, request.tenant);
      await streamTurnEvents(ctx, reply, turn.id, request.tenant, afterSeq);
    },
  );
}
