import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Socket } from 'node:net';
import { z } from 'zod';
import { ErrorCode, TetherError, httpStatusOf, isTetherError } from '../errors.js';

/** The one error shape of the HTTP API: `{ "error": { "code", "message" } }`. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/** What an error becomes on the wire: the status and the body. */
export interface HttpError {
  status: number;
  body: ErrorBody;
  /** Not the caller's fault: worth an error line in the log with the cause. */
  internal: boolean;
}

const GENERIC_INTERNAL = 'internal error; the server log has the details';

const body = (code: ErrorCode, message: string): ErrorBody => ({ error: { code, message } });

/** `options.maxTurns: expected number, received string` — the first problems, one line. */
export function zodMessage(error: z.ZodError, where: string): string {
  const problems = error.issues.slice(0, 3).map((issue) => {
    const path = issue.path.map(String).join('.');
    const at = path === '' ? '' : `${path}: `;
    if (issue.code === 'unrecognized_keys') {
      // A mistyped query parameter would otherwise be ignored, and the request mean something else.
      const what = where === 'query' ? 'unknown query parameter' : 'unknown field';
      return `${at}${what} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    }
    return `${at}${issue.message}`;
  });
  return `invalid ${where}: ${problems.join('; ')}`;
}

/**
 * Maps anything thrown in a request to the API's status and body. Fastify's own refusals keep
 * their 4xx status (413, 415…) under the contract's codes; anything unexpected becomes a generic
 * INTERNAL so that no stack, path or SQL text leaves the process.
 */
export function toHttpError(err: unknown): HttpError {
  if (isTetherError(err)) {
    if (err.code === ErrorCode.INTERNAL) return { status: 500, body: body(ErrorCode.INTERNAL, GENERIC_INTERNAL), internal: true };
    return { status: httpStatusOf(err.code), body: body(err.code, err.message), internal: false };
  }
  if (err instanceof z.ZodError) return { status: 400, body: body(ErrorCode.INVALID_INPUT, zodMessage(err, 'request')), internal: false };

  const fe = err as Partial<FastifyError> | null;
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    const message = fastifyMessage(fe?.code, fe?.message);
    if (status === 404) return { status, body: body(ErrorCode.NOT_FOUND, message), internal: false };
    if (status === 401) return { status, body: body(ErrorCode.UNAUTHORIZED, message), internal: false };
    if (status === 403) return { status, body: body(ErrorCode.FORBIDDEN, message), internal: false };
    return { status, body: body(ErrorCode.INVALID_INPUT, message), internal: false };
  }
  return { status: 500, body: body(ErrorCode.INTERNAL, GENERIC_INTERNAL), internal: true };
}

/** Stable, client-facing wording for fastify's refusals (their own messages name internals). */
function fastifyMessage(code: string | undefined, message: string | undefined): string {
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'request body is too large';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'unsupported content type; send application/json';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'request body is empty; send a JSON object';
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return 'request body is not valid JSON';
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return 'request body does not match its content-length';
    case 'FST_ERR_BAD_URL':
      return 'the URL is not valid (malformed percent-encoding?)';
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return 'a path segment is too long';
    default:
      // Our own early refusals (too many headers) carry a client-facing message already.
      if (code?.startsWith('TETHER_') && message) return message;
      // The JSON parser's SyntaxError carries no code, only a 400.
      if (message && /JSON/i.test(message)) return 'request body is not valid JSON';
      return 'bad request';
  }
}

/** Answers a request with an error in the contract's shape; logs what is not the caller's fault. */
export function sendError(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  const mapped = toHttpError(err);
  if (mapped.internal) request.log.error({ err }, 'request failed');
  else request.log.info({ code: mapped.body.error.code, status: mapped.status }, mapped.body.error.message);
  if (mapped.status === 401) void reply.header('www-authenticate', 'Bearer');
  return reply.code(mapped.status).type('application/json; charset=utf-8').send(mapped.body);
}

/** The error handler and not-found handler of the app: every failure leaves in one shape. */
export function registerErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => sendError(request, reply, err));
  app.setNotFoundHandler((request, reply) =>
    sendError(request, reply, new TetherError(ErrorCode.NOT_FOUND, `no route ${request.method} ${(request.url.split('?')[0] ?? '').slice(0, 200)}`)),
  );
}

/**
 * For `frameworkErrors`: a malformed URL or an over-long segment, refused before routing.
 * Same shape as everything else.
 */
export function frameworkErrorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  sendError(request, reply, err);
}

/**
 * Node refuses some requests before fastify sees them (oversized headers, a malformed request
 * line). Answer those in the API's shape too, then close: the connection's state is unknown.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let status = 400;
  let message = 'malformed HTTP request';
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    message = 'request headers are too large';
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408;
    message = 'request timed out';
  }
  const payload = JSON.stringify(body(ErrorCode.INVALID_INPUT, message));
  const reason = status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request';
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`,
  );
}
