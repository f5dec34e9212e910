/**
 * A local, dependency-free imitation of the Anthropic Messages API, good enough for the
 * real Claude Code binary (driven through the Agent SDK) to run against offline.
 *
 * Point the agent at it with {@link mockAgentEnv}; script replies with
 * {@link MockAnthropic.enqueue}; inspect what the agent sent with
 * {@link MockAnthropic.requests} / {@link MockAnthropic.mainRequests}.
 *
 * @module
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import zlib from 'node:zlib';

/** Token usage a mock reply reports. Any field left out is estimated (input/output) or 0 (cache). */
export interface MockUsage {
  /** `usage.input_tokens`; default: request body JSON length / 4. */
  inputTokens?: number;
  /** `usage.output_tokens`; default: reply text (plus tool input JSON) length / 4, at least 1. */
  outputTokens?: number;
  /** `usage.cache_read_input_tokens`; default 0. */
  cacheReadTokens?: number;
  /** `usage.cache_creation_input_tokens`; default 0. */
  cacheWriteTokens?: number;
}

/** A failure to inject instead of (or in the middle of) a reply. */
export type MockFault =
  /** Answer with an HTTP error in the real API's error JSON shape, e.g. 500 api_error, 529 overloaded_error, 429 rate_limit_error. */
  | { kind: 'status'; status: number; type?: string; message?: string; retryAfterSec?: number; headers?: Record<string, string> }
  /** Start the SSE stream, send part of the reply, then destroy the socket. */
  | { kind: 'drop' }
  /** Accept the request and never answer (until {@link MockAnthropic.stop} or {@link MockAnthropic.reset}). */
  | { kind: 'hang' };

/** One scripted answer to a Messages API request. */
export interface MockReply {
  /** Assistant text, streamed in several `text_delta` chunks. */
  text?: string;
  /** A `tool_use` block after the text; the reply then ends with `stop_reason: "tool_use"`. */
  toolUse?: { name: string; input: Record<string, unknown>; id?: string };
  /** Overrides the reported usage for this reply. */
  usage?: MockUsage;
  /** Wait this long before the first byte of the response. */
  delayMs?: number;
  /** Fail instead of answering normally. */
  fault?: MockFault;
  /** Override the reported `stop_reason` (default `tool_use` with a tool call, else `end_turn`), e.g. `max_tokens`. */
  stopReason?: string;
}

/** What the mock answered to a request (see {@link RecordedRequest.response}). */
export interface RecordedResponse {
  /** HTTP status sent (absent for a hung request). */
  status?: number;
  /** The fault injected, if any. */
  fault?: MockFault['kind'];
  /** For messages: the usage reported, in the API's field names. */
  usage?: { input_tokens: number; output_tokens: number; cache_read_input_tokens: number; cache_creation_input_tokens: number };
  /** For messages: the assistant text sent. */
  text?: string;
  /** For messages: the tool_use block sent. */
  toolUse?: { id: string; name: string; input: Record<string, unknown> };
  /** For messages: the stop_reason sent. */
  stopReason?: string;
}

/** A request the mock received, as recorded in {@link MockAnthropic.requests}. */
export interface RecordedRequest {
  /** 1-based arrival number. */
  id: number;
  /** Path without the query string, e.g. `/v1/messages`. */
  path: string;
  /** HTTP method. */
  method: string;
  /** Request headers as node parsed them (lower-case names). */
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body (undefined when there was none or it was not JSON). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  /** `body.model`, when present. */
  model?: string;
  /** `body.stream === true`. */
  stream: boolean;
  /**
   * true for the agent's main conversation requests, false for side requests
   * (title generation, quota probes, token counting...). See {@link isMainRequest} for the rule.
   */
  main: boolean;
  /** The plain text of every user message in `body.messages`, in order (tool_result blocks excluded). */
  userTexts: string[];
  /** Last element of {@link userTexts}, or `''`. */
  lastUserText: string;
  /** `Date.now()` when the request arrived. */
  startedAt: number;
  /** `Date.now()` when the response finished (or the socket was destroyed). */
  endedAt?: number;
  /** What the mock answered, filled in when it starts answering. */
  response?: RecordedResponse;
}

/** Options for {@link startMockAnthropic}. */
export interface MockAnthropicOptions {
  /** Port to listen on; default 0 (any free port). */
  port?: number;
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** Default reply for main requests when the queue is empty; default {@link defaultMockReply}. */
  reply?: (req: RecordedRequest) => MockReply;
  /** Extra delay before answering every request (main and side), in ms. Default 0. */
  latencyMs?: number;
  /** Called for every request once it is recorded (before it is answered); handy for debugging. */
  onRequest?: (req: RecordedRequest) => void;
}

/** A running mock server, returned by {@link startMockAnthropic}. */
export interface MockAnthropic {
  /** Base URL, e.g. `http://127.0.0.1:40123` (what `ANTHROPIC_BASE_URL` should be). */
  readonly url: string;
  /** The port the server listens on. */
  readonly port: number;
  /** Every request, in arrival order. */
  readonly requests: RecordedRequest[];
  /** Only the main-conversation requests, in arrival order. */
  mainRequests(): RecordedRequest[];
  /** Queue replies for the next MAIN requests, FIFO; side requests always get a short default answer. */
  enqueue(...replies: MockReply[]): void;
  /** Number of replies still queued. */
  pending(): number;
  /** Set/replace the default reply function (used for main requests when the queue is empty). */
  setDefault(fn: (req: RecordedRequest) => MockReply): void;
  /** Clears recorded requests and queued replies, and destroys the sockets of requests hung by a `hang` fault. */
  reset(): void;
  /** Closes the server and destroys open sockets (including hung ones). */
  stop(): Promise<void>;
}

/** Short answer every side request gets (titles, quota probes, ...). */
export const SIDE_REPLY_TEXT = 'mock side reply';

/**
 * The default reply for a main request: `Reply #<n>: <lastUserText>` where n is the number of
 * user texts in the conversation so far, so turn 3 of a conversation answers `Reply #3: ...`.
 */
export function defaultMockReply(req: RecordedRequest): MockReply {
  return { text: `Reply #${req.userTexts.length}: ${req.lastUserText}` };
}

/**
 * Extracts the plain user texts from a Messages API `messages` array: every `text` block
 * (or string content) of every `user` message, in order, joined per message. Messages that
 * only carry `tool_result` blocks contribute nothing, and `<system-reminder>` texts the agent
 * injects are dropped.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function extractUserTexts(messages: any): string[] {
  const out: string[] = [];
  if (!Array.isArray(messages)) return out;
  for (const m of messages) {
    if (!m || m.role !== 'user') continue;
    const parts: string[] = [];
    if (typeof m.content === 'string') parts.push(m.content);
    else if (Array.isArray(m.content)) {
      for (const b of m.content) {
        if (b && b.type === 'text' && typeof b.text === 'string') parts.push(b.text);
      }
    }
    const kept = parts.map((p) => p.trim()).filter((p) => p !== '' && !isReminder(p));
    if (kept.length > 0) out.push(kept.join('\n'));
  }
  return out;
}

function isReminder(text: string): boolean {
  return /^<system-reminder>[\s\S]*<\/system-reminder>$/.test(text) ||
    /^<(local-command-|command-name|command-message|command-args)/.test(text);
}

/**
 * Decides whether a `/v1/messages` body is a main-conversation request of the agent.
 *
 * Rule, found by logging what Claude Code 2.1.329 sends through the Agent SDK: main-loop
 * requests always carry the agent's tool list (~12 tools: Agent, Bash, Edit, Read, Write,
 * ToolSearch, ...), `thinking` and `context_management`; the system prompt is NOT a usable
 * signal (with the SDK's default system prompt it is a one-liner), nor are `model` or
 * `max_tokens` (side requests use the same model and 32000). Side requests seen: the
 * session-title request (`tools: []` plus `output_config.format` json_schema) and
 * `HEAD /api/hello`. So: main ⇔ a request to `/v1/messages` whose body has at least 2 tools.
 * Note that subagent (Agent/Task tool) requests also carry tools and therefore count as main.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function isMainRequest(path: string, body: any): boolean {
  if (path !== '/v1/messages' || !body || typeof body !== 'object') return false;
  return Array.isArray(body.tools) && body.tools.length >= 2;
}

/**
 * The env a test passes to the agent so it talks to this mock and nothing else: base URL and a
 * dummy API key, no telemetry / error reporting / auto-update / non-essential traffic (no
 * `HEAD /api/hello` probe, no session-title request), and no automatic retries
 * (`CLAUDE_CODE_MAX_RETRIES=0`, so one injected fault = one failed turn; pass
 * `{ CLAUDE_CODE_MAX_RETRIES: '1' }` to watch the agent retry). Merge it over `PATH`/`HOME`.
 *
 * `extra` is merged last and wins; an empty-string value in `extra` removes that variable
 * (e.g. `{ CLAUDE_CODE_MAX_RETRIES: '' }` restores the binary's default of 10 retries).
 */
export function mockAgentEnv(mock: MockAnthropic, extra?: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {
    ANTHROPIC_BASE_URL: mock.url,
    ANTHROPIC_API_KEY: 'sk-ant-mock-key',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    DISABLE_AUTOUPDATER: '1',
    CLAUDE_CODE_MAX_RETRIES: '0',
  };
  for (const [k, v] of Object.entries(extra ?? {})) {
    if (v === '') delete env[k];
    else env[k] = v;
  }
  return env;
}

// ---------------------------------------------------------------------------------------------

interface Live {
  res: http.ServerResponse;
  timers: Set<NodeJS.Timeout>;
  hung: boolean;
}

const sleep = (ms: number, live: Live): Promise<void> =>
  new Promise((resolve) => {
    if (ms <= 0) return resolve();
    const t = setTimeout(() => {
      live.timers.delete(t);
      resolve();
    }, ms);
    live.timers.add(t);
  });

function newId(prefix: string): string {
  return prefix + randomBytes(12).toString('base64url');
}

function errorTypeFor(status: number): string {
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

function defaultErrorMessage(type: string): string {
  switch (type) {
    case 'overloaded_error': return 'Overloaded';
    case 'rate_limit_error': return 'Number of request tokens has exceeded your per-minute rate limit (mock)';
    case 'api_error': return 'Internal server error';
    default: return `mock ${type}`;
  }
}

function splitChunks(text: string, parts = 3): string[] {
  if (text.length === 0) return [];
  const n = Math.max(1, Math.min(parts, text.length));
  const size = Math.ceil(text.length / n);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

function decodeBody(raw: Buffer, encoding: string | undefined): Buffer {
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
 * Starts the mock API on `opts.host` (default 127.0.0.1) / `opts.port` (default: a free port).
 *
 * Endpoints: `POST /v1/messages` (SSE when `stream: true`, a JSON Message otherwise),
 * `POST /v1/messages/count_tokens`, `GET /v1/models[/id]`, `HEAD|GET /` (health);
 * anything else gets a 404 in the API's error shape. Query strings (`?beta=true`) are ignored.
 */
export async function startMockAnthropic(opts: MockAnthropicOptions = {}): Promise<MockAnthropic> {
  const requests: RecordedRequest[] = [];
  const queue: MockReply[] = [];
  let defaultReply = opts.reply ?? defaultMockReply;
  const latencyMs = opts.latencyMs ?? 0;
  const sockets = new Set<Socket>();
  const lives = new Set<Live>();
  let nextId = 1;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(chunks)).catch((err: unknown) => {
        if (!res.headersSent) {
          sendError(res, 500, 'api_error', `mock failure: ${String(err)}`);
        } else {
          res.destroy();
        }
      });
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  function sendJson(res: http.ServerResponse, status: number, obj: unknown, headers: Record<string, string> = {}): void {
    const body = JSON.stringify(obj);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'request-id': newId('req_mock_'),
      ...headers,
    });
    res.end(body);
  }

  function sendError(res: http.ServerResponse, status: number, type: string, message: string, extraHeaders: Record<string, string> = {}): void {
    sendJson(res, status, { type: 'error', error: { type, message } }, { 'x-should-retry': status >= 500 || status === 429 ? 'true' : 'false', ...extraHeaders });
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://mock');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    const text = decodeBody(raw, req.headers['content-encoding'] as string | undefined).toString('utf8');
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    let body: any;
    if (text.length > 0) {
      try { body = JSON.parse(text); } catch { body = undefined; }
    }
    const userTexts = extractUserTexts(body?.messages);
    const rec: RecordedRequest = {
      id: nextId++,
      path,
      method,
      headers: { ...req.headers },
      body,
      model: typeof body?.model === 'string' ? body.model : undefined,
      stream: body?.stream === true,
      main: method === 'POST' && isMainRequest(path, body),
      userTexts,
      lastUserText: userTexts[userTexts.length - 1] ?? '',
      startedAt: Date.now(),
    };
    requests.push(rec);
    const live: Live = { res, timers: new Set(), hung: false };
    lives.add(live);
    res.on('finish', () => {
      rec.endedAt ??= Date.now();
      rec.response ??= { status: res.statusCode };
    });
    res.on('close', () => {
      rec.endedAt ??= Date.now();
      for (const t of live.timers) clearTimeout(t);
      lives.delete(live);
    });
    opts.onRequest?.(rec);

    await sleep(latencyMs, live);
    if (res.destroyed) return;

    if (method === 'POST' && path === '/v1/messages') {
      if (!body || typeof body !== 'object') {
        sendError(res, 400, 'invalid_request_error', 'mock: request body is not valid JSON');
        return;
      }
      let reply: MockReply;
      if (rec.main) {
        reply = queue.shift() ?? defaultReply(rec);
      } else {
        reply = sideReply(body);
      }
      await answerMessages(rec, res, reply, live);
      return;
    }
    if (method === 'POST' && path === '/v1/messages/count_tokens') {
      sendJson(res, 200, { input_tokens: estimateInput(text) });
      return;
    }
    if (method === 'GET' && path === '/v1/models') {
      sendJson(res, 200, { data: MODELS.map(modelInfo), has_more: false, first_id: MODELS[0], last_id: MODELS[MODELS.length - 1] });
      return;
    }
    const m = /^\/v1\/models\/([^/]+)$/.exec(path);
    if (method === 'GET' && m) {
      sendJson(res, 200, modelInfo(decodeURIComponent(m[1]!)));
      return;
    }
    if ((method === 'GET' || method === 'HEAD') && (path === '/' || path === '/api/hello')) {
      sendJson(res, 200, { ok: true, mock: 'anthropic' });
      return;
    }
    sendError(res, 404, 'not_found_error', `mock: no route for ${method} ${path}`);
  }

  async function answerMessages(rec: RecordedRequest, res: http.ServerResponse, reply: MockReply, live: Live): Promise<void> {
    await sleep(reply.delayMs ?? 0, live);
    if (res.destroyed) return;
    const fault = reply.fault;
    if (fault?.kind === 'hang') {
      live.hung = true;
      rec.response = { fault: 'hang' };
      return; // never answered; stop()/reset() destroys the socket
    }
    if (fault?.kind === 'status') {
      rec.response = { status: fault.status, fault: 'status' };
      const type = fault.type ?? errorTypeFor(fault.status);
      const headers: Record<string, string> = { ...fault.headers };
      if (fault.retryAfterSec !== undefined) headers['retry-after'] = String(fault.retryAfterSec);
      sendError(res, fault.status, type, fault.message ?? defaultErrorMessage(type), headers);
      return;
    }

    const model = rec.model ?? 'claude-sonnet-4-5';
    const text = reply.text ?? '';
    const tool = reply.toolUse
      ? { id: reply.toolUse.id ?? newId('toolu_mock_'), name: reply.toolUse.name, input: reply.toolUse.input }
      : undefined;
    const toolJson = tool ? JSON.stringify(tool.input) : '';
    const usage = {
      input_tokens: reply.usage?.inputTokens ?? estimateInput(JSON.stringify(rec.body)),
      output_tokens: reply.usage?.outputTokens ?? Math.max(1, Math.ceil((text.length + toolJson.length) / 4)),
      cache_read_input_tokens: reply.usage?.cacheReadTokens ?? 0,
      cache_creation_input_tokens: reply.usage?.cacheWriteTokens ?? 0,
    };
    const stopReason = reply.stopReason ?? (tool ? 'tool_use' : 'end_turn');
    const msgId = newId('msg_mock_');
    const requestId = newId('req_mock_');

    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const content: any[] = [];
    if (text !== '' || !tool) content.push({ type: 'text', text });
    if (tool) content.push({ type: 'tool_use', id: tool.id, name: tool.name, input: tool.input });
    rec.response = { status: 200, usage, text, stopReason, ...(tool ? { toolUse: tool } : {}), ...(fault ? { fault: fault.kind } : {}) };

    if (!rec.stream) {
      const json = JSON.stringify({
        id: msgId, type: 'message', role: 'assistant', model, content,
        stop_reason: stopReason, stop_sequence: null,
        usage: { ...usage, service_tier: 'standard' },
      });
      if (fault?.kind === 'drop') {
        // Send the headers and half the body, then cut the connection.
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), 'request-id': requestId });
        res.write(json.slice(0, Math.floor(json.length / 2)));
        return destroyAfterFlush(res);
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), 'request-id': requestId });
      res.end(json);
      return;
    }

    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'request-id': requestId,
    });
    const send = (event: string, data: unknown): void => {
      if (!res.destroyed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    // The real API reports output_tokens 1 in message_start and the total in message_delta.
    send('message_start', {
      type: 'message_start',
      message: {
        id: msgId, type: 'message', role: 'assistant', model, content: [],
        stop_reason: null, stop_sequence: null,
        usage: { ...usage, output_tokens: 1, service_tier: 'standard' },
      },
    });
    send('ping', { type: 'ping' });

    const drop = fault?.kind === 'drop';
    let index = 0;
    if (text !== '' || !tool) {
      send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
      const parts = splitChunks(text);
      for (let i = 0; i < parts.length; i++) {
        send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: parts[i] } });
        if (drop && i === 0) return destroyAfterFlush(res);
        await sleep(2, live);
        if (res.destroyed) return;
      }
      if (drop) return destroyAfterFlush(res);
      send('content_block_stop', { type: 'content_block_stop', index });
      index++;
    }
    if (tool) {
      send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: tool.id, name: tool.name, input: {} } });
      const parts = splitChunks(toolJson, 2);
      for (let i = 0; i < parts.length; i++) {
        send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: parts[i] } });
        if (drop) return destroyAfterFlush(res);
        await sleep(2, live);
        if (res.destroyed) return;
      }
      send('content_block_stop', { type: 'content_block_stop', index });
    }
    send('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stopReason, stop_sequence: null },
      usage: {
        output_tokens: usage.output_tokens,
        input_tokens: usage.input_tokens,
        cache_read_input_tokens: usage.cache_read_input_tokens,
        cache_creation_input_tokens: usage.cache_creation_input_tokens,
      },
    });
    send('message_stop', { type: 'message_stop' });
    res.end();
  }

  function destroyAfterFlush(res: http.ServerResponse): void {
    // Let the partial frames reach the client, then cut the connection mid-stream.
    setTimeout(() => res.destroy(), 20);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = opts.host ?? '127.0.0.1';
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;

  const endLive = (): void => {
    for (const l of lives) {
      for (const t of l.timers) clearTimeout(t);
      l.res.destroy();
    }
    lives.clear();
  };

  return {
    url: `http://${urlHost}:${addr.port}`,
    port: addr.port,
    requests,
    mainRequests: () => requests.filter((r) => r.main),
    enqueue: (...replies) => { queue.push(...replies); },
    pending: () => queue.length,
    setDefault: (fn) => { defaultReply = fn; },
    reset: () => {
      for (const l of lives) {
        if (l.hung) l.res.destroy();
      }
      requests.length = 0;
      queue.length = 0;
    },
    stop: async () => {
      endLive();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        server.closeAllConnections?.();
      });
    },
  };
}

/**
 * The answer to a side request: {@link SIDE_REPLY_TEXT}, or, when the request asks for
 * structured output (`output_config.format.type === "json_schema"`, as the session-title
 * request does), a minimal JSON document that satisfies the schema.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function sideReply(body: any): MockReply {
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

function estimateInput(json: string): number {
  return Math.max(1, Math.ceil(json.length / 4));
}

const MODELS = ['claude-sonnet-4-5', 'claude-opus-4-1', 'claude-haiku-4-5'];

function modelInfo(id: string): Record<string, unknown> {
  return { type: 'model', id, display_name: `${id} (mock)`, created_at: '2025-01-01T00:00:00Z' };
}
