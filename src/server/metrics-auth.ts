import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TetherConfig } from '../config.js';
import { ErrorCode, TetherError, invalidInput } from '../errors.js';
import { TokenTable, bearerOf } from './auth.js';
import { sendError } from './errors.js';

/** The path of the Prometheus scrape. */
export const METRICS_PATH = '/metrics';

/**
 * Who may read `/metrics`. Its series are sums over every tenant (sessions, tokens, cost), so no
 * tenant's API token opens it: with API tokens configured it needs the metrics token
 * (`TETHER_METRICS_TOKEN`) as a bearer token, and is closed when there is none. A metrics token
 * set without API tokens is required all the same: the operator asked for it. With neither, it is
 * open, as the API is (the server then listens on loopback only).
 */
export type MetricsAccess = { kind: 'open' } | { kind: 'closed' } | { kind: 'token'; table: TokenTable };

/**
 * The access rule from the config. A metrics token that is also an API token is refused: one
 * secret would then open both a tenant's keys and every tenant's totals.
 */
export function metricsAccess(config: Pick<TetherConfig, 'metricsToken'>, apiTokens: TokenTable): MetricsAccess {
  if (config.metricsToken !== undefined) {
    if (apiTokens.tenantOf(config.metricsToken) !== null) throw invalidInput('TETHER_METRICS_TOKEN is also an API token (TETHER_TOKENS); give /metrics a token of its own');
    return { kind: 'token', table: new TokenTable([[config.metricsToken, 'metrics']]) };
  }
  return apiTokens.enabled ? { kind: 'closed' } : { kind: 'open' };
}

/** The route pattern decides, as for the API: the router decodes `/%6Detrics` to `/metrics`. */
const isMetricsRequest = (request: FastifyRequest): boolean => (request.routeOptions.url ?? request.url.split('?')[0]) === METRICS_PATH;

/** Checks `/metrics` requests at `onRequest`, before anything is read or counted. */
export function registerMetricsAuth(app: FastifyInstance, access: MetricsAccess): void {
  if (access.kind === 'open') return;
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!isMetricsRequest(request)) return undefined;
    if (access.kind === 'closed') {
      return sendError(
        request,
        reply,
        new TetherError(ErrorCode.FORBIDDEN, '/metrics shows the totals of every tenant, so API tokens do not open it; set TETHER_METRICS_TOKEN on the server and scrape with it'),
      );
    }
    const token = bearerOf(request.headers.authorization);
    if (token === null || access.table.tenantOf(token) === null) {
      const message = token === null ? '/metrics needs Authorization: Bearer <metrics token> (TETHER_METRICS_TOKEN)' : 'the token is not the metrics token';
      return sendError(request, reply, new TetherError(ErrorCode.UNAUTHORIZED, message));
    }
    return undefined;
  });
}
