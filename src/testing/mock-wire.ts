/** How the mock Messages API puts its answers on the wire: ids, errors, chunks, side replies. */
import type http from 'node:http';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';
import type { MockReply } from './mock-types.js';

/** Short answer every side request gets (titles, quota probes, ...). */
export const SIDE_REPLY_TEXT = 'mock side reply';

export interface Live {
  res: http.ServerResponse;
  timers: Set<NodeJS.Timeout>;
  hung: boolean;
}

export const sleep = (ms: number, live: Live): Promise<void> =>
  new Promise((resolve) => {
    if (ms <= 0) return resolve();
    const t = setTimeout(() => {
      live.timers.delete(t);
      resolve();
    }, ms);
    live.timers.add(t);
  });

export function newId(prefix: string): string {
  return prefix + randomBytes(12).toString('base64url');
}

export function errorTypeFor(status: number): string {
  switch (status) {
    case 400: return 'invalid_request_error';
    case 401: return 'authentication_error';
    case 402: return 'billing_error';
    case 403: return 'permission_error';
    case 404: return 'not_found_error';
    case 413: return 'request_too_large';
    case 429: return 'rate_limit_error';
    case 529: return 'overloaded_error';
    case 504: return 'timeout_error';
    default: return 'api_error';
  }
}

export function defaultErrorMessage(type: string): string {
  switch (type) {
    case 'overloaded_error': return 'Overloaded';
    case 'rate_limit_error': return 'Number of request tokens has exceeded your per-minute rate limit (mock)';
    case 'api_error': return 'Internal server error';
    default: return `mock ${type}`;
  }
}

export function splitChunks(text: string, parts = 3): string[] {
  if (text.length === 0) return [];
  const n = Math.max(1, Math.min(parts, text.length));
  const size = Math.ceil(text.length / n);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

export function decodeBody(raw: Buffer, encoding: string | undefined): Buffer {
  try {
    switch ((encoding ?? '').toLowerCase()) {
      case 'gzip': return zlib.gunzipSync(raw);
      case 'deflate': return zlib.inflateSync(raw);
      case 'br': return zlib.brotliDecompressSync(raw);
      default: return raw;
    }
  } catch {
    return raw;
  }
}

/**
 * The answer to a side request: {@link SIDE_REPLY_TEXT}, or, when the request asks for
 * structured output (`output_config.format.type === "json_schema"`, as the session-title
 * request does), a minimal JSON document that satisfies the schema.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function sideReply(body: any): MockReply {
  const format = body?.output_config?.format ?? body?.output_format;
  if (format && format.type === 'json_schema' && format.schema) {
    return { text: JSON.stringify(sampleFromSchema(format.schema, 0)), usage: { outputTokens: 5 } };
  }
  return { text: SIDE_REPLY_TEXT, usage: { outputTokens: 3 } };
}

/** A small value that satisfies common JSON schemas (objects, arrays, enums, primitives). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function sampleFromSchema(schema: any, depth: number): unknown {
  if (!schema || typeof schema !== 'object' || depth > 8) return null;
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0];
  if ('default' in schema) return schema.default;
  const alt = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(alt) && alt.length > 0) return sampleFromSchema(alt[0], depth + 1);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const props = schema.properties ?? {};
      const required: string[] = Array.isArray(schema.required) ? schema.required : Object.keys(props);
      for (const k of required) out[k] = sampleFromSchema(props[k] ?? {}, depth + 1);
      return out;
    }
    case 'array': {
      const min = typeof schema.minItems === 'number' ? schema.minItems : 0;
      return Array.from({ length: min }, () => sampleFromSchema(schema.items ?? {}, depth + 1));
    }
    case 'string': return depth <= 1 ? 'Mock session' : 'mock';
    case 'integer':
    case 'number': return typeof schema.minimum === 'number' ? schema.minimum : 0;
    case 'boolean': return false;
    case 'null': return null;
    default: return 'mock';
  }
}

export function estimateInput(json: string): number {
  return Math.max(1, Math.ceil(json.length / 4));
}

export const MODELS = ['claude-sonnet-4-5', 'claude-opus-4-1', 'claude-haiku-4-5'];

export function modelInfo(id: string): Record<string, unknown> {
  return { type: 'model', id, display_name: `${id} (mock)`, created_at: '2025-01-01T00:00:00Z' };
}
