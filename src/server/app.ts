import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createLogger } from '../lib/logger.js';
import type { Tether } from '../broker/api.js';
import type { TetherConfig } from '../config.js';
import { JSON_BOUNDS, depthProblem } from '../domain/json-bounds.js';
import { ErrorCode, TetherError, invalidInput } from '../errors.js';
import { loadTokens, registerAuth, type TokenTable } from './auth.js';
import { clientErrorHandler, frameworkErrorHandler, registerErrorHandlers, sendError } from './errors.js';
import { createLimits } from './limits.js';
import { metricsAccess, registerMetricsAuth } from './metrics-auth.js';
import { createMetrics } from './metrics.js';
import { registerOpenApi } from './openapi.js';
import { registerApprovalRoutes } from './routes/approvals.js';
import type { RouteContext } from './routes/context.js';
import { registerEventRoutes } from './routes/events.js';
import { registerDashboardRoutes } from './routes/dashboard.js';
import { registerMcpRoutes } from './routes/mcp.js';
import { registerMessageRoutes } from './routes/messages.js';
import { registerOpsRoutes } from './routes/ops.js';
import { registerSessionRoutes } from './routes/sessions.js';
import { registerTurnRoutes } from './routes/turns.js';
import { registerWarmthRoutes } from './routes/warmth.js';
import { SseHub } from './sse.js';
import { serializerCompiler, validatorCompiler } from './type-provider.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route as `method /path` (fastify's `:param`), HEAD twins left out: the OpenAPI test compares it with the document. */
    registeredRoutes: string[];
    /**
     * Starts the drain of a shutdown: the server keeps listening, but every new request is
     * answered 503 AGENT_UNAVAILABLE with Retry-After (and /readyz says not ready) while the
     * requests in flight finish. `close()` drains too. Idempotent.
     */
    drain(): void;
    /** Whether the drain has begun. */
    readonly draining: boolean;
  }
}

/** Seconds a client refused during a drain is told to wait (another node, or this one back, by then). */
export const DRAIN_RETRY_AFTER_SEC = 5;

export interface BuildServerOptions {
  /** Where request logs go; `false` for none. Default: pino on stderr at `config.logLevel`. */
  logger?: Logger | false;
  /** The directory the server started in: the default allowed root. Default: process.cwd(). */
  cwd?: string;
  /** Tokens already loaded (serve.ts loads them once to check the binding); else read from config. */
  tokens?: TokenTable;
}

/**
 * Log paths that may hold credentials. Fastify's request serializer logs no headers, but a
 * `log.info({ req })` or a header dump anywhere must still never print a token.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'request.headers.authorization',
  'headers.authorization',
  'headers["proxy-authorization"]',
  'authorization',
];

/** Key segments are at most 256 characters, percent-encoded UTF-8 up to 12 bytes each. */
const MAX_PARAM_LENGTH = 256 * 12;

function loggerFor(config: TetherConfig, logger: Logger | false | undefined): Logger | undefined {
  if (logger === false) return undefined;
  const redact = { paths: REDACT_PATHS, censor: '[redacted]' };
  // A child can carry its own redaction, so the caller's logger gets it without being rebuilt.
  if (logger) return logger.child({ component: 'http' }, { redact });
  return createLogger({ level: config.logLevel, format: config.logFormat, redact: REDACT_PATHS }).child({ component: 'http' });
}

/**
 * The HTTP daemon's app: routes, auth, limits, errors, SSE, metrics and /openapi.json around a
 * Tether. Does not listen (see serve.ts) and does not own the Tether: closing the app leaves it open.
 */
export async function buildServer(tether: Tether, config: TetherConfig, options: BuildServerOptions = {}): Promise<FastifyInstance> {
  const tokens = options.tokens ?? loadTokens(config);
  const limits = createLimits(config, options.cwd ?? process.cwd());
  const log = loggerFor(config, options.logger);

  const requestTimeoutMs = config.requestTimeoutSec * 1000;
  const app = Fastify({
    ...(log ? { loggerInstance: log } : { logger: false }),
    bodyLimit: config.bodyLimitBytes,
    // Slow clients (slowloris, a body that trickles or never ends) get 408 once receiving their
    // request has taken requestTimeoutSec. Node's timers bound only the request: a response may
    // stream for hours. No socket idle timeout (connectionTimeout): it would cut quiet responses.
    requestTimeout: requestTimeoutMs,
    http: {
      requestTimeout: requestTimeoutMs,
      headersTimeout: requestTimeoutMs,
      // Node checks those timers on this interval (30 s by default), so it sets the precision.
      connectionsCheckingInterval: Math.min(30_000, Math.max(250, Math.floor(requestTimeoutMs / 4))),
    },
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Fastify's own 503 during close has another body shape; the hook below answers in ours.
    return503OnClosing: false,
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
  }) as unknown as FastifyInstance;

  // One over the limit, so that "too many" is seen (node drops headers past maxHeadersCount silently).
  app.server.maxHeadersCount = config.maxHeaders + 1;

  registerErrorHandlers(app);

  let draining = false;
  app.addHook('onRequest', async (request, reply) => {
    if (draining) {
      // Still listening, so that a client learns to go elsewhere instead of finding the port shut;
      // the readiness probe answers for itself (not ready) so a load balancer takes the node out.
      void reply.header('connection', 'close').header('retry-after', String(DRAIN_RETRY_AFTER_SEC));
      if (request.routeOptions.url === '/readyz') return undefined;
      return sendError(request, reply, new TetherError(ErrorCode.AGENT_UNAVAILABLE, 'Tether is shutting down; retry on another node or once it is back'));
    }
    const count = request.raw.rawHeaders.length / 2;
    if (count > config.maxHeaders) {
      return sendError(request, reply, Object.assign(new Error(`too many request headers; the limit is ${config.maxHeaders}`), { statusCode: 431, code: 'TETHER_TOO_MANY_HEADERS' }));
    }
    return undefined;
  });
  registerAuth(app, tokens, config.tenant);
  registerMetricsAuth(app, metricsAccess(config, tokens));

  // JSON only; `text/plain` (fastify's other default) would let a string through as a body.
  app.removeContentTypeParser(['application/json', 'text/plain']);
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: config.bodyLimitBytes }, (request, body, done) => {
    // A POST without a body (reset, interrupt) is fine even when a client labels it JSON.
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    parseJson(request, text, (err, parsed) => {
      if (err) return done(err, undefined);
      // Before any schema sees it: every body of this API is an object, and zod's validators
      // recurse (a body nested thousands deep would overflow the stack: a 500, not a 400).
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return done(invalidInput('request body must be a JSON object'), undefined);
      const tooDeep = depthProblem(parsed, JSON_BOUNDS.documentDepth);
      if (tooDeep) return done(invalidInput(`request body is ${tooDeep}`), undefined);
      done(null, parsed);
    });
  });

  const sse = new SseHub(config.sseKeepAliveSec);
  app.decorate('drain', () => {
    if (draining) return;
    draining = true;
    // A tail never ends by itself; turn streams end with their turn (which shutdown bounds).
    sse.endAll('tail');
  });
  app.decorate('draining', { getter: () => draining });
  const metrics = createMetrics(tether);
  const ctx: RouteContext = { tether, config, limits, sse, metrics };

  // Routes carry zod schemas: they validate requests and document responses (see type-provider.ts).
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // Before the routes: @fastify/swagger documents the routes registered after it.
  await registerOpenApi(app);

  // What is registered, as `METHOD /path` (fastify's own HEAD twins left out): the OpenAPI test
  // compares it with the document both ways, so a route cannot go undocumented.
  const registered: string[] = [];
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) if (method !== 'HEAD') registered.push(`${method.toLowerCase()} ${route.url}`);
  });
  app.decorate('registeredRoutes', registered);

  registerMessageRoutes(app, ctx);
  registerSessionRoutes(app, ctx);
  registerWarmthRoutes(app, ctx);
  registerTurnRoutes(app, ctx);
  registerEventRoutes(app, ctx);
  registerApprovalRoutes(app, ctx);
  registerOpsRoutes(app, ctx);
  registerMcpRoutes(app, ctx);
  registerDashboardRoutes(app);

  app.addHook('preClose', async () => app.drain());
  app.addHook('onClose', async () => {
    metrics.dispose();
    sse.endAll();
  });

  await app.ready();
  // Built now, so that a route the generator cannot document fails the start, not a request.
  app.swagger();
  return app;
}
