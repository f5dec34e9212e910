import type { FastifyInstance, FastifyRequest } from 'fastify';
import { validateKey } from '../../domain/keys.js';
import { emptyBodySchema, noQuerySchema, sleepResponseSchema, wakeResponseSchema } from '../schemas.js';
import type { ZodTypeProvider } from '../type-provider.js';
import type { RouteContext } from './context.js';
import { errors, json, keyParams } from './docs.js';

/** Starting a session's agent process ahead of its next turn, and ending it early, on this daemon. */
export function registerWarmthRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { tether } = ctx;
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const scope = (request: FastifyRequest) => ({ tenant: request.tenant });
  const tags = ['sessions'];

  routes.post(
    '/v1/sessions/:key/wake',
    {
      schema: {
        operationId: 'wakeSession',
        summary: "Start the agent process of the key's live session now (resuming its conversation), so its next turn runs warm",
        tags,
        params: keyParams,
        querystring: noQuerySchema,
        body: emptyBodySchema.optional(),
        response: { 200: json('What the wake did, and the process.', wakeResponseSchema), ...errors(400, 404, 429, 502, 503) },
      },
    },
    async (request) => tether.wake(validateKey(request.params.key), scope(request)),
  );

  routes.post(
    '/v1/sessions/:key/sleep',
    {
      schema: {
        operationId: 'sleepSession',
        summary: "End the idle agent process of the key's live session (the session stays; its next turn resumes cold)",
        tags,
        params: keyParams,
        querystring: noQuerySchema,
        body: emptyBodySchema.optional(),
        response: { 200: json('Whether a process was ended.', sleepResponseSchema), ...errors(400, 404) },
      },
    },
    async (request) => tether.sleep(validateKey(request.params.key), scope(request)),
  );
}
