import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { UsageGrouping, UsageSeries } from '../../domain/usage-series.js';
import { healthResponseSchema, noQuerySchema, readinessResponseSchema, statsResponseSchema, usageQuerySchema, usageResponseSchema } from '../schemas.js';
import type { ZodTypeProvider } from '../type-provider.js';
import type { RouteContext } from './context.js';
import { errors, json } from './docs.js';

/**
 * Health, readiness, metrics, the OpenAPI document and `/v1/stats`. `/v1/stats` needs an API
 * token; `/metrics` (every tenant's totals) a metrics token of its own (metrics-auth.ts); probes none.
 */
export function registerOpsRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { tether } = ctx;
  const tags = ['ops'];
  let lastReady: boolean | null = null;

  app.get(
    '/v1/stats',
    {
      schema: {
        operationId: 'stats',
        summary: "Counts, totals, tokens and cost of the caller's tenant",
        tags,
        // Stats are the tenant's: a `?tenant=` or `?all=` that silently meant nothing would mislead.
        querystring: noQuerySchema,
        response: { 200: json('Statistics.', statsResponseSchema), ...errors(400) },
      },
    },
    async (request) => tether.stats({ tenant: request.tenant }),
  );

  app.withTypeProvider<ZodTypeProvider>().get(
    '/v1/usage',
    {
      schema: {
        operationId: 'usage',
        summary: "Usage over time: the caller's ended turns per bucket and group (tokens, cost, failures, latency)",
        tags,
        querystring: usageQuerySchema,
        response: { 200: json('The series.', usageResponseSchema), ...errors(400) },
      },
    },
    async (request) => {
      const { query } = request;
      const series = await tether.usage({
        tenant: request.tenant,
        ...(query.since ? { since: Date.parse(query.since) } : {}),
        ...(query.until ? { until: Date.parse(query.until) } : {}),
        ...(query.bucket ? { bucket: query.bucket } : {}),
        ...(query.by ? { by: query.by as UsageGrouping } : {}),
      });
      return usageToJSON(series);
    },
  );

  // Liveness: the process answers. Nothing else is checked, so a busy store never restarts it.
  app.get(
    '/healthz',
    { schema: { operationId: 'health', summary: 'Liveness: the process answers', tags, response: { 200: json('Alive.', healthResponseSchema) } } },
    async () => ({ status: 'ok' as const }),
  );

  const readyzSchema = {
    operationId: 'ready',
    summary: 'Readiness: the store is reachable and the agent binary present',
    tags,
    response: { 200: json('Ready.', readinessResponseSchema), 503: json('Not ready (or shutting down).', readinessResponseSchema) },
  };
  app.get('/readyz', { schema: readyzSchema }, async (request, reply) => {
    const readiness = await tether.readiness();
    // Shutting down: the store and agent may be fine, but this node takes no new work.
    const draining = app.draining;
    const ready = readiness.ready && !draining;
    // Probes poll this every few seconds: log the reason when the answer changes, not every time.
    if (ready !== lastReady) {
      lastReady = ready;
      if (ready) request.log.info('ready');
      else request.log.warn({ store: readiness.store, agent: readiness.agent, draining }, 'not ready');
    }
    // Error texts may name paths: they go to the log only.
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'unavailable',
      store: { ok: readiness.store.ok, kind: readiness.store.kind },
      agent: { ok: readiness.agent.ok },
      ...(draining ? { draining: true } : {}),
    });
  });

  const metricsSchema = {
    operationId: 'metrics',
    summary: 'Prometheus metrics, summed over every tenant (with API tokens configured, it needs TETHER_METRICS_TOKEN as a bearer token)',
    tags,
    response: { 200: { description: 'Prometheus text exposition format.', content: { 'text/plain': { schema: z.string() } } } },
  };
  app.get('/metrics', { schema: metricsSchema }, async (_request, reply) => {
    const text = await ctx.metrics.scrape();
    return reply.type(ctx.metrics.registry.contentType).send(text);
  });

  app.get(
    '/openapi.json',
    { schema: { operationId: 'openapi', summary: 'This document', tags, response: { 200: json('OpenAPI 3.1 document.', z.looseObject({})) } } },
    async () => app.swagger(),
  );
}

/** The series as JSON: times as ISO strings, like every time of the API. */
export function usageToJSON(series: UsageSeries) {
  const iso = (ms: number): string => new Date(ms).toISOString();
  return { ...series, since: iso(series.since), until: iso(series.until), buckets: series.buckets.map((b) => ({ ...b, at: iso(b.at) })) };
}
