import type { FastifyInstance } from 'fastify';
import type { TetherEvent } from '../../domain/events.js';
import type { RouteContext } from './context.js';
import { noQuerySchema } from '../schemas.js';
import { errors, sseStream } from './docs.js';

/** Events queued for a slow client at most; beyond that it is cut off rather than grow memory. */
const MAX_BACKLOG = 10_000;

/**
 * `GET /v1/events`: every event of the caller's tenant as it happens (no replay: ids are a
 * per-connection counter, so Last-Event-ID means nothing here). Keep-alives in between.
 */
export function registerEventRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const schema = {
    operationId: 'tailEvents',
    summary: "Every event of the caller's tenant as it happens (SSE; ids count per connection)",
    tags: ['events'],
    // No replay and no filter: a parameter asking for one (`?after=`, `?key=`) is refused, not ignored.
    querystring: noQuerySchema,
    response: {
      200: { description: 'Server-Sent Events of every TetherEvent of the tenant, with keep-alive comments.', content: { 'text/event-stream': { schema: sseStream } } },
      ...errors(400),
    },
  };
  app.get('/v1/events', { exposeHeadRoute: false, schema }, async (request, reply) => {
    const tenant = request.tenant;
    const stream = ctx.sse.open(reply, 'tail');
    const backlog: TetherEvent[] = [];
    let wake: (() => void) | null = null;
    const off = ctx.tether.on('*', (event) => {
      if (event.tenant !== tenant) return;
      if (backlog.length >= MAX_BACKLOG) {
        request.log.warn({ tenant }, 'event tail client too slow; closing its stream');
        stream.end();
      } else backlog.push(event);
      wake?.();
    });
    const onAbort = (): void => wake?.();
    stream.signal.addEventListener('abort', onAbort);
    let id = 0;
    try {
      while (!stream.closed) {
        const event = backlog.shift();
        if (event === undefined) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = null;
          continue;
        }
        id += 1;
        if (!(await stream.send(event.type, event, id))) break;
      }
    } finally {
      off();
      stream.signal.removeEventListener('abort', onAbort);
      stream.end();
    }
    return reply;
  });
}
