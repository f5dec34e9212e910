import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Tether } from '../../broker/api.js';
import type { TetherConfig } from '../../config.js';
import { validateKey } from '../../domain/keys.js';
import { invalidInput } from '../../errors.js';
import { zodMessage } from '../errors.js';
import type { RequestLimits } from '../limits.js';
import type { ServerMetrics } from '../metrics.js';
import type { SseHub } from '../sse.js';

/** What every route group is given by the app. */
export interface RouteContext {
  tether: Tether;
  config: TetherConfig;
  limits: RequestLimits;
  sse: SseHub;
  metrics: ServerMetrics;
  /** The OpenAPI document, built once at start. */
  openapi: Record<string, unknown>;
}

/** Parses with a schema of schemas.ts; a mismatch is INVALID_INPUT naming the field. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw invalidInput(zodMessage(result.error, where));
  return result.data;
}

/** The `:key` path segment, decoded by the router, checked like every key. */
export function keyOf(request: FastifyRequest): string {
  const params = request.params as Record<string, unknown>;
  return validateKey(params.key);
}

/** The `:id` path segment. */
export function idOf(request: FastifyRequest): string {
  const params = request.params as Record<string, unknown>;
  return typeof params.id === 'string' ? params.id : '';
}
