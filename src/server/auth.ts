import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TetherConfig } from '../config.js';
import { validateTenant } from '../domain/keys.js';
import { ErrorCode, TetherError, invalidInput } from '../errors.js';
import { sendError } from './errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Owner of the keys this request may touch: the token's tenant, or the default one when auth is off. */
    tenant: string;
  }
}

/** Shorter tokens are guessable; 16 characters of a random string are not. */
export const MIN_TOKEN_LENGTH = 16;

interface TokenEntry {
  digest: Buffer;
  tenant: string;
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * The API tokens and their tenants. Tokens are kept only as SHA-256 digests, and a lookup
 * compares the presented token's digest with every entry in constant time, so neither the
 * answer's timing nor an early exit tells how much of a token was right.
 */
export class TokenTable {
  readonly #entries: readonly TokenEntry[];

  constructor(pairs: ReadonlyArray<[token: string, tenant: string]>) {
    this.#entries = pairs.map(([token, tenant]) => ({ digest: sha256(token), tenant }));
  }

  /** Whether requests must carry a token at all. */
  get enabled(): boolean {
    return this.#entries.length > 0;
  }

  get size(): number {
    return this.#entries.length;
  }

  /** The tenant of `token`, or null. Looks at every entry whatever the outcome. */
  tenantOf(token: string): string | null {
    const presented = sha256(token);
    let tenant: string | null = null;
    for (const entry of this.#entries) {
      if (timingSafeEqual(presented, entry.digest) && tenant === null) tenant = entry.tenant;
    }
    return tenant;
  }
}

/**
 * `token=tenant` pairs separated by commas or newlines; `#` starts a comment. The last `=`
 * splits the pair (tenants cannot contain one, tokens may: base64 padding). `source` names
 * where the text came from in error messages — never the token itself.
 */
export function parseTokenPairs(text: string, source: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((rawLine, lineIndex) => {
    const line = rawLine.replace(/#.*$/, '');
    for (const item of line.split(',')) {
      const pair = item.trim();
      if (pair === '') continue;
      const where = lines.length > 1 ? `${source} line ${lineIndex + 1}` : source;
      const eq = pair.lastIndexOf('=');
      if (eq <= 0 || eq === pair.length - 1) throw invalidInput(`${where}: each entry must look like token=tenant`);
      const token = pair.slice(0, eq).trim();
      const tenant = pair.slice(eq + 1).trim();
      if (token.length < MIN_TOKEN_LENGTH) throw invalidInput(`${where}: a token is shorter than ${MIN_TOKEN_LENGTH} characters`);
      if (/[\s\p{Cc}]/u.test(token)) throw invalidInput(`${where}: a token contains whitespace or a control character`);
      try {
        validateTenant(tenant);
      } catch (err) {
        throw invalidInput(`${where}: tenant "${tenant}": ${(err as Error).message}`);
      }
      pairs.push([token, tenant]);
    }
  });
  return pairs;
}

/**
 * Tokens from `config.tokens` (TETHER_TOKENS) and `config.tokensFile` together. The same token
 * given twice for two tenants is refused: which one it meant would be a guess.
 */
export function loadTokens(config: Pick<TetherConfig, 'tokens' | 'tokensFile'>): TokenTable {
  const pairs: Array<[string, string]> = [];
  if (config.tokens) pairs.push(...parseTokenPairs(config.tokens, 'TETHER_TOKENS'));
  if (config.tokensFile) {
    let text: string;
    try {
      text = readFileSync(config.tokensFile, 'utf8');
    } catch (err) {
      throw invalidInput(`cannot read the tokens file ${config.tokensFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    const fromFile = parseTokenPairs(text, `tokens file ${config.tokensFile}`);
    if (fromFile.length === 0) throw invalidInput(`the tokens file ${config.tokensFile} holds no token=tenant pair`);
    pairs.push(...fromFile);
  }
  const seen = new Map<string, string>();
  for (const [token, tenant] of pairs) {
    const before = seen.get(token);
    if (before !== undefined && before !== tenant) throw invalidInput('one token is given for two different tenants');
    seen.set(token, tenant);
  }
  return new TokenTable([...seen.entries()]);
}

/** 127.0.0.0/8, ::1 and `localhost`: addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) {
    if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped !== null && mapped[1] !== undefined && mapped[1].startsWith('127.');
  }
  return false;
}

/**
 * Without tokens anyone who can reach the port could run an agent on this machine, so the
 * server then listens on loopback only. Throws INVALID_INPUT for any other host.
 */
export function assertBindingAllowed(host: string, tokens: TokenTable): void {
  if (tokens.enabled || isLoopbackHost(host)) return;
  throw invalidInput(
    `refusing to listen on ${host} without TETHER_TOKENS: anyone who can reach it could run an agent here. ` +
      'Set TETHER_TOKENS (token=tenant,…) or TETHER_TOKENS_FILE, or listen on 127.0.0.1',
  );
}

/** Whether a path is the API's (`/v1/*`, and MCP's `/mcp`): it needs a token, and the OpenAPI document says so. */
export const isApiPath = (path: string): boolean => path === '/v1' || path.startsWith('/v1/') || path === '/mcp' || path.startsWith('/mcp/');

/**
 * The route pattern decides, not only the raw URL: the router decodes percent-escapes, so
 * `/%761/sessions` reaches a /v1 route while its raw path does not start with /v1.
 */
function isApiRequest(request: FastifyRequest): boolean {
  return isApiPath(request.routeOptions.url ?? '') || isApiPath(request.url.split('?')[0] ?? '');
}

const BEARER_RE = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerOf(header: string | string[] | undefined): string | null {
  const match = typeof header === 'string' ? BEARER_RE.exec(header) : null;
  return match?.[1] ?? null;
}

/**
 * Sets `request.tenant` on every request and, when tokens exist, requires
 * `Authorization: Bearer <token>` on `/v1/*`. Runs at `onRequest`, before the body is read,
 * so an unauthenticated client cannot make the server parse anything.
 */
export function registerAuth(app: FastifyInstance, tokens: TokenTable, defaultTenant: string): void {
  app.decorateRequest('tenant', '');
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    request.tenant = defaultTenant;
    if (!tokens.enabled) return;
    if (!isApiRequest(request)) return;
    const header = request.headers.authorization;
    const token = bearerOf(header);
    const tenant = token === null ? null : tokens.tenantOf(token);
    if (tenant === null) {
      const message = header === undefined ? 'this API needs Authorization: Bearer <token>' : 'the token is not valid';
      return sendError(request, reply, new TetherError(ErrorCode.UNAUTHORIZED, message));
    }
    request.tenant = tenant;
    return undefined;
  });
}
