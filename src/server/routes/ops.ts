import type { FastifyInstance } from 'fastify';
import type { RouteContext } from './context.js';

/**
 * Health, readiness, metrics, the OpenAPI document and `/v1/stats`. Only `/v1/stats` needs a
 * token: probes and scrapers get no tenant data.
 */
export function registerOpsRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { tether } = ctx;
  let lastReady: boolean | null = null;

  // Liveness: the process answers. Nothing else is checked, so a busy store never restarts it.
  app.get('/healthz', async () => ({ status: 'ok' as const }));

  app.get('/readyz', async (request, reply) => {
    const readiness = await tether.readiness();
    // Probes poll this every few seconds: log the reason when the answer changes, not every time.
    if (readiness.ready !== lastReady) {
      lastReady = readiness.ready;
      if (readiness.ready) request.log.info('ready');
      else request.log.warn({ store: readiness.store, agent: readiness.agent }, 'not ready');
    }
    // Error texts may name paths: they go to the log only.
    return reply.code(readiness.ready ? 200 : 503).send({
      status: readiness.ready ? 'ready' : 'unavailable',
      store: { ok: readiness.store.ok, kind: readiness.store.kind },
      agent: { ok: readiness.agent.ok },
    });
  });

  app.get('/metrics', async (_request, reply) => {
    const text = await ctx.metrics.scrape();
    return reply.type(ctx.metrics.registry.contentType).send(text);
  });

  app.get('/openapi.json', async () => ctx.openapi);

  app.get('/v1/stats', async (request) => tether.stats({ tenant: request.tenant }));
}
