import { ErrorCode, TetherError } from '../errors.js';

/**
 * The request layer of the client: one base URL, the bearer token, and the error contract.
 * Every HTTP error JSON becomes the TetherError it names; a daemon that cannot be reached
 * becomes DAEMON_UNREACHABLE (exit 1), told apart from AGENT_UNAVAILABLE because the remedy
 * differs: start the daemon or fix its URL, rather than wait for the agent's API.
 */

export interface HttpOptions {
  url: string;
  token?: string;
  fetch?: typeof fetch;
}

export type Query = Record<string, string | number | string[] | undefined>;

const KNOWN_CODES = new Set<string>(Object.values(ErrorCode));

/** For answers without a readable error JSON (a proxy's HTML page, an empty body). */
const CODE_OF_STATUS: Record<number, ErrorCode> = {
  400: ErrorCode.INVALID_INPUT,
  401: ErrorCode.UNAUTHORIZED,
  403: ErrorCode.FORBIDDEN,
  404: ErrorCode.NOT_FOUND,
  409: ErrorCode.SESSION_BUSY,
  429: ErrorCode.QUEUE_FULL,
  502: ErrorCode.AGENT_FAILED,
  503: ErrorCode.AGENT_UNAVAILABLE,
};

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && KNOWN_CODES.has(code);
}

/** The daemon's base URL without a trailing slash; INVALID_INPUT unless it is a plain http(s) URL. */
export function baseUrlOf(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TetherError(ErrorCode.INVALID_INPUT, `the server URL ${JSON.stringify(url)} is not a URL; expected e.g. http://127.0.0.1:7420`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TetherError(ErrorCode.INVALID_INPUT, `the server URL ${JSON.stringify(url)} must start with http:// or https://`);
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    throw new TetherError(ErrorCode.INVALID_INPUT, `the server URL ${JSON.stringify(url)} must not carry a query or fragment`);
  }
  return parsed.href.replace(/\/+$/, '');
}

export class HttpClient {
  /** The base URL without a trailing slash; a path prefix (`https://host/tether`) is kept. */
  readonly base: string;
  readonly #token: string | undefined;
  readonly #fetch: typeof fetch;

  constructor(options: HttpOptions) {
    this.base = baseUrlOf(options.url);
    this.#token = options.token;
    this.#fetch = options.fetch ?? fetch;
  }

  url(path: string, query: Query = {}): string {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) params.append(name, String(v));
    }
    const qs = params.toString();
    return `${this.base}${path}${qs ? `?${qs}` : ''}`;
  }

  /**
   * Sends a request and returns the response if it is a success (2xx, or one of `accept`).
   * Anything else throws the TetherError of its error JSON; a network failure throws
   * AGENT_UNAVAILABLE, an abort rethrows the abort.
   */
  async request(
    method: string,
    path: string,
    init: { query?: Query; body?: unknown; headers?: Record<string, string>; signal?: AbortSignal; accept?: number[] } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json', ...init.headers };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await this.#fetch(this.url(path, init.query), {
        method,
        headers,
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
        ...(init.signal ? { signal: init.signal } : {}),
      });
    } catch (err) {
      if (init.signal?.aborted) throw err;
      throw this.unreachable(err);
    }
    if (response.ok || init.accept?.includes(response.status)) return response;
    throw await errorOf(response);
  }

  /** A JSON answer, parsed. */
  async json(method: string, path: string, init: Parameters<HttpClient['request']>[2] = {}): Promise<unknown> {
    const response = await this.request(method, path, init);
    return readJSON(response);
  }

  unreachable(err: unknown): TetherError {
    return new TetherError(ErrorCode.DAEMON_UNREACHABLE, `cannot reach the Tether daemon at ${this.base}: ${causeOf(err)}`, { cause: err });
  }
}

export async function readJSON(response: Response): Promise<unknown> {
  const text = await response.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new TetherError(ErrorCode.INTERNAL, `the daemon answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`);
  }
}

/** The TetherError an unsuccessful answer stands for. */
export async function errorOf(response: Response): Promise<TetherError> {
  const text = await response.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const error = typeof body === 'object' && body !== null && 'error' in body ? body.error : undefined;
  const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
  const message = typeof error === 'object' && error !== null && 'message' in error && typeof error.message === 'string' ? error.message : undefined;
  const fallback = CODE_OF_STATUS[response.status] ?? ErrorCode.INTERNAL;
  return new TetherError(isErrorCode(code) ? code : fallback, message ?? `the daemon answered ${response.status} ${response.statusText}${text ? `: ${text.slice(0, 200)}` : ''}`, {
    details: { status: response.status },
  });
}

/** `fetch failed` says nothing; its cause (`connect ECONNREFUSED 127.0.0.1:7420`) does. */
function causeOf(err: unknown): string {
  let e: unknown = err;
  let message = err instanceof Error ? err.message : String(err);
  while (e instanceof Error && e.cause !== undefined) {
    e = e.cause;
    if (e instanceof Error && e.message) message = e.message;
    else if (e instanceof AggregateError) message = e.errors.map((x: unknown) => (x instanceof Error ? x.message : String(x))).join('; ');
  }
  return message;
}
