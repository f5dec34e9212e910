import { z } from 'zod';
import { errorResponseSchema } from '../schemas.js';

/**
 * The pieces a route's schema is built from besides schemas.ts: path parameters, documented
 * responses, the error statuses with their Error body. openapi.ts turns them into the document.
 */

/** One response of a route as documented: bodies by media type (none: no body) and headers. */
export interface ResponseDoc {
  description: string;
  content?: Record<string, { schema: z.ZodType }>;
  headers?: Record<string, { description: string }>;
}

export const json = <S extends z.ZodType>(description: string, schema: S) => ({ description, content: { 'application/json': { schema } } });

/**
 * `:key`. The bounds are stated, not checked here: validateKey (domain/keys.ts) checks every key,
 * from HTTP, the CLI or the library alike, counting characters as JSON Schema does (zod's
 * `.max` counts UTF-16 units), and its messages are the API's.
 */
export const keyParams = z.object({
  key: z.string().meta({ description: 'The conversation key, URL-encoded as one path segment (1-256 printable characters).', minLength: 1, maxLength: 256 }),
});

export const turnIdParams = z.object({ id: z.string().describe('The turn id.') });

export const SSE_DESCRIPTION =
  'Server-Sent Events: one TetherEvent per event; `event:` is its type, `data:` its JSON, `id:` its per-turn sequence number (resume with Last-Event-ID). ' +
  'Comment lines (`: keep-alive`) keep idle connections open. A failure after the stream began arrives as `event: error` with the Error body.';

/** The body of a `text/event-stream` response. */
export const sseStream = z.string().describe(SSE_DESCRIPTION);

const ERROR_DESCRIPTIONS = {
  400: 'INVALID_INPUT: the request is malformed or a value is out of bounds.',
  401: 'UNAUTHORIZED: no token or an unknown one.',
  403: 'FORBIDDEN: not allowed on this server (cwd outside the allowed roots, bypassPermissions).',
  404: "NOT_FOUND: no such key, turn or route (another tenant's are not found either).",
  409: 'SESSION_BUSY (onBusy: reject), the turn was INTERRUPTED, or the approval was ALREADY_DECIDED.',
  413: 'INVALID_INPUT: the body is larger than the limit.',
  415: 'INVALID_INPUT: the body is not application/json.',
  429: 'QUEUE_FULL or LIMIT_REACHED.',
  502: 'AGENT_FAILED: the agent ran and failed.',
  503: 'AGENT_UNAVAILABLE or STORE_UNAVAILABLE, or the server is shutting down.',
} as const;

export type ErrorStatus = keyof typeof ERROR_DESCRIPTIONS;

/**
 * The error statuses a route may answer, each with the Error body. 401 is not listed by routes:
 * openapi.ts adds it where auth.ts asks for a token.
 */
export function errors(...statuses: ErrorStatus[]): Record<number, ReturnType<typeof json<typeof errorResponseSchema>>> {
  return Object.fromEntries(statuses.map((status) => [status, json(ERROR_DESCRIPTIONS[status], errorResponseSchema)]));
}
