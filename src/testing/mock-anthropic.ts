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
import type http from 'node:http';
import { ReplyQueue, delayOrFault, destroyAfterFlush, mockControls, sendJson, startMockHttp, type MockExchange } from './mock-http.js';
import type { MockAnthropic, MockAnthropicOptions, MockReply, RecordedRequest } from './mock-types.js';
import { MODELS, estimateInput, modelInfo, newId, sideReply, sleep, splitChunks } from './mock-wire.js';

export type * from './mock-types.js';
export { SIDE_REPLY_TEXT } from './mock-wire.js';

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

/**
 * Starts the mock API on `opts.host` (default 127.0.0.1) / `opts.port` (default: a free port).
 *
 * Endpoints: `POST /v1/messages` (SSE when `stream: true`, a JSON Message otherwise),
 * `POST /v1/messages/count_tokens`, `GET /v1/models[/id]`, `HEAD|GET /` (health);
 * anything else gets a 404 in the API's error shape. Query strings (`?beta=true`) are ignored.
 */
export async function startMockAnthropic(opts: MockAnthropicOptions = {}): Promise<MockAnthropic> {
  const requests: RecordedRequest[] = [];
  const replies = new ReplyQueue<RecordedRequest, MockReply>(opts.reply ?? defaultMockReply);
  let nextId = 1;
  const recorded = new WeakMap<MockExchange, RecordedRequest>();

  const sendError = (res: http.ServerResponse, status: number, type: string, message: string, extraHeaders: Record<string, string> = {}): void =>
    sendJson(res, status, { type: 'error', error: { type, message } }, {
      'request-id': newId('req_mock_'),
      'x-should-retry': status >= 500 || status === 429 ? 'true' : 'false',
      ...extraHeaders,
    });
  const sendOk = (res: http.ServerResponse, obj: unknown): void => sendJson(res, 200, obj, { 'request-id': newId('req_mock_') });

  function arrive(x: MockExchange): () => void {
    const { method, path, body } = x;
    const userTexts = extractUserTexts(body?.messages);
    const rec: RecordedRequest = {
      id: nextId++,
      path,
      method,
      headers: { ...x.req.headers },
      body,
      model: typeof body?.model === 'string' ? body.model : undefined,
      stream: body?.stream === true,
      main: method === 'POST' && isMainRequest(path, body),
      userTexts,
      lastUserText: userTexts[userTexts.length - 1] ?? '',
      startedAt: Date.now(),
    };
    requests.push(rec);
    recorded.set(x, rec);
    x.res.on('finish', () => {
      rec.endedAt ??= Date.now();
      rec.response ??= { status: x.res.statusCode };
    });
    opts.onRequest?.(rec);
    return () => {
      rec.endedAt ??= Date.now();
    };
  }

  async function handle(x: MockExchange): Promise<void> {
    const { res, method, path, body, text } = x;
    const rec = recorded.get(x)!;
    if (method === 'POST' && path === '/v1/messages') {
      if (!body || typeof body !== 'object') {
        sendError(res, 400, 'invalid_request_error', 'mock: request body is not valid JSON');
        return;
      }
      await answerMessages(rec, x, rec.main ? replies.next(rec) : sideReply(body));
      return;
    }
    if (method === 'POST' && path === '/v1/messages/count_tokens') {
      sendOk(res, { input_tokens: estimateInput(text) });
      return;
    }
    if (method === 'GET' && path === '/v1/models') {
      sendOk(res, { data: MODELS.map(modelInfo), has_more: false, first_id: MODELS[0], last_id: MODELS[MODELS.length - 1] });
      return;
    }
    const m = /^\/v1\/models\/([^/]+)$/.exec(path);
    if (method === 'GET' && m) {
      sendOk(res, modelInfo(decodeURIComponent(m[1]!)));
      return;
    }
    if ((method === 'GET' || method === 'HEAD') && (path === '/' || path === '/api/hello')) {
      sendOk(res, { ok: true, mock: 'anthropic' });
      return;
    }
    sendError(res, 404, 'not_found_error', `mock: no route for ${method} ${path}`);
  }

  async function answerMessages(rec: RecordedRequest, x: MockExchange, reply: MockReply): Promise<void> {
    const { res, live } = x;
    if (await delayOrFault(x, reply, rec, (...error) => sendError(res, ...error))) return;
    const fault = reply.fault;

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
      const parts = splitChunks(text, reply.chunks);
      for (let i = 0; i < parts.length; i++) {
        send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: parts[i] } });
        if (drop && i === 0) return destroyAfterFlush(res);
        await sleep(reply.chunkDelayMs ?? 2, live);
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

  const server = await startMockHttp(opts, arrive, handle, (res, err) => sendError(res, 500, 'api_error', `mock failure: ${String(err)}`));
  return { ...mockControls(server, requests, replies), mainRequests: () => requests.filter((r) => r.main) };
}
