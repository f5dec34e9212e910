/**
 * A local imitation of the OpenAI Responses API (`POST /v1/responses`, streamed), good enough for
 * the real Codex binary to run against offline: the same HTTP side as the Messages mock
 * (mock-http.ts), the Responses wire format here. Point Codex at it with {@link mockCodexConfig};
 * script replies with {@link MockResponses.enqueue}; inspect what it sent with `requests`.
 *
 * @module
 */
import type http from 'node:http';
import { ReplyQueue, delayOrFault, destroyAfterFlush, mockControls, sendJson, startMockHttp, type MockExchange, type MockHttpOptions } from './mock-http.js';
import type { MockReplyTiming, RecordedExchange } from './mock-types.js';
import { estimateInput, newId, sleep, splitChunks } from './mock-wire.js';

/** One scripted answer to a Responses request. */
export interface MockResponsesReply extends MockReplyTiming {
  /** Assistant text, streamed in several `response.output_text.delta` events. */
  text?: string;
  /** A function call after the text (Codex runs it and sends its output in the next request). */
  functionCall?: { name: string; arguments: Record<string, unknown>; callId?: string };
  /** Reported usage; input and output are estimated when left out, the rest 0. */
  usage?: { inputTokens?: number; cachedTokens?: number; outputTokens?: number; reasoningTokens?: number };
}

/** A request the mock received; its `userTexts` leave out what Codex adds about its environment. */
export interface RecordedResponsesRequest extends RecordedExchange {
  /** The outputs of function calls Codex sends back, in order. */
  functionOutputs: Array<{ callId: string; output: string }>;
}

export interface MockResponsesOptions extends MockHttpOptions {
  /** Reply when the queue is empty; default {@link defaultResponsesReply}. */
  reply?: (req: RecordedResponsesRequest) => MockResponsesReply;
}

export interface MockResponses {
  /** Base URL without `/v1`, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  readonly port: number;
  readonly requests: RecordedResponsesRequest[];
  /** Queue replies for the next `POST /v1/responses`, FIFO. */
  enqueue(...replies: MockResponsesReply[]): void;
  pending(): number;
  setDefault(fn: (req: RecordedResponsesRequest) => MockResponsesReply): void;
  /** Clears the recorded requests and the queue, and ends hung requests. */
  reset(): void;
  stop(): Promise<void>;
}

/** `Reply #<n>: <last user text>`, n counting the user texts so far (turn 3 answers `Reply #3: …`). */
export function defaultResponsesReply(req: RecordedResponsesRequest): MockResponsesReply {
  return { text: `Reply #${req.userTexts.length}: ${req.lastUserText}` };
}

/**
 * The user texts of a Responses `input`: `input_text` parts of `user` messages. Codex sends what
 * it knows of its environment and instructions as user messages too, each one whole inside a tag
 * (`<environment_context>…`, `<user_instructions>…`): those are left out.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function extractResponsesUserTexts(input: any): string[] {
  const out: string[] = [];
  if (!Array.isArray(input)) return out;
  for (const item of input) {
    if (!item || item.role !== 'user' || (item.type !== undefined && item.type !== 'message')) continue;
    const parts = typeof item.content === 'string' ? [item.content] : Array.isArray(item.content) ? item.content.filter((c: { type?: string }) => c?.type === 'input_text').map((c: { text?: string }) => c.text ?? '') : [];
    const kept = parts.map((p: string) => p.trim()).filter((p: string) => p !== '' && !/^<([a-z_]+)>[\s\S]*<\/\1>$/.test(p));
    if (kept.length > 0) out.push(kept.join('\n'));
  }
  return out;
}

/**
 * A Codex `config.toml` that sends every request to this mock and nothing elsewhere: a model
 * provider on the Responses wire API, no WebSocket attempt (else each turn first waits seconds
 * for one), no OpenAI login.
 */
export function mockCodexConfig(mock: { url: string }, model = 'gpt-5.5'): string {
  return [
    `model = "${model}"`,
    'model_provider = "mock"',
    '',
    '[model_providers.mock]',
    'name = "mock"',
    `base_url = "${mock.url}/v1"`,
    'wire_api = "responses"',
    'supports_websockets = false',
    'requires_openai_auth = false',
    'request_max_retries = 0',
    'stream_max_retries = 0',
    '',
  ].join('\n');
}

export async function startMockResponses(opts: MockResponsesOptions = {}): Promise<MockResponses> {
  const requests: RecordedResponsesRequest[] = [];
  const replies = new ReplyQueue<RecordedResponsesRequest, MockResponsesReply>(opts.reply ?? defaultResponsesReply);
  let nextId = 1;
  const recorded = new WeakMap<MockExchange, RecordedResponsesRequest>();

  const sendError = (res: http.ServerResponse, status: number, type: string, message: string, headers: Record<string, string> = {}): void =>
    sendJson(res, status, { error: { message, type, code: type, param: null } }, { 'x-request-id': newId('req_mock_'), ...headers });

  function arrive(x: MockExchange): () => void {
    const { body } = x;
    const userTexts = extractResponsesUserTexts(body?.input);
    const functionOutputs = Array.isArray(body?.input)
      ? body.input
          .filter((i: { type?: string }) => i?.type === 'function_call_output')
          .map((i: { call_id?: string; output?: unknown }) => ({ callId: i.call_id ?? '', output: typeof i.output === 'string' ? i.output : JSON.stringify(i.output) }))
      : [];
    const rec: RecordedResponsesRequest = {
      id: nextId++,
      path: x.path,
      method: x.method,
      headers: { ...x.req.headers },
      body,
      model: typeof body?.model === 'string' ? body.model : undefined,
      stream: body?.stream === true,
      userTexts,
      lastUserText: userTexts.at(-1) ?? '',
      functionOutputs,
      startedAt: Date.now(),
    };
    requests.push(rec);
    recorded.set(x, rec);
    x.res.on('finish', () => {
      rec.response ??= { status: x.res.statusCode };
    });
    return () => {
      rec.endedAt ??= Date.now();
    };
  }

  async function handle(x: MockExchange): Promise<void> {
    const { res, method, path, body } = x;
    if (method === 'POST' && path === '/v1/responses') {
      if (!body || typeof body !== 'object') return sendError(res, 400, 'invalid_request_error', 'mock: request body is not valid JSON');
      const rec = recorded.get(x)!;
      return answer(rec, x, replies.next(rec));
    }
    if (method === 'GET' && path === '/v1/models') return sendJson(res, 200, { object: 'list', data: [{ id: 'gpt-5.5', object: 'model', owned_by: 'mock' }] });
    if ((method === 'GET' || method === 'HEAD') && path === '/') return sendJson(res, 200, { ok: true, mock: 'openai-responses' });
    sendError(res, 404, 'not_found_error', `mock: no route for ${method} ${path}`);
  }

  async function answer(rec: RecordedResponsesRequest, x: MockExchange, reply: MockResponsesReply): Promise<void> {
    const { res, live } = x;
    if (await delayOrFault(x, reply, rec, (...error) => sendError(res, ...error))) return;
    const fault = reply.fault;
    const model = rec.model ?? 'gpt-5.5';
    const text = reply.text ?? '';
    const call = reply.functionCall
      ? { callId: reply.functionCall.callId ?? newId('call_mock_'), name: reply.functionCall.name, arguments: JSON.stringify(reply.functionCall.arguments) }
      : undefined;
    const usage = {
      input_tokens: reply.usage?.inputTokens ?? estimateInput(JSON.stringify(rec.body)),
      input_tokens_details: { cached_tokens: reply.usage?.cachedTokens ?? 0 },
      output_tokens: reply.usage?.outputTokens ?? Math.max(1, Math.ceil((text.length + (call?.arguments.length ?? 0)) / 4)),
      output_tokens_details: { reasoning_tokens: reply.usage?.reasoningTokens ?? 0 },
      total_tokens: 0,
    };
    usage.total_tokens = usage.input_tokens + usage.output_tokens;
    rec.response = { status: 200, text, ...(fault ? { fault: fault.kind } : {}) };
    const responseId = newId('resp_mock_');
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-request-id': newId('req_mock_') });
    const send = (data: { type: string } & Record<string, unknown>): void => {
      if (!res.destroyed) res.write(`event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const base = { id: responseId, object: 'response', created_at: Math.floor(Date.now() / 1000), model };
    send({ type: 'response.created', response: { ...base, status: 'in_progress', output: [] } });
    const drop = fault?.kind === 'drop';
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const output: any[] = [];
    if (text !== '' || !call) {
      const itemId = newId('msg_mock_');
      const index = output.length;
      send({ type: 'response.output_item.added', output_index: index, item: { id: itemId, type: 'message', role: 'assistant', status: 'in_progress', content: [] } });
      const parts = splitChunks(text, reply.chunks);
      for (let i = 0; i < parts.length; i++) {
        send({ type: 'response.output_text.delta', item_id: itemId, output_index: index, content_index: 0, delta: parts[i] });
        if (drop && i === 0) return destroyAfterFlush(res);
        await sleep(reply.chunkDelayMs ?? 2, live);
        if (res.destroyed) return;
      }
      const item = { id: itemId, type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text, annotations: [] }] };
      send({ type: 'response.output_item.done', output_index: index, item });
      output.push(item);
    }
    if (drop) return destroyAfterFlush(res);
    if (call) {
      const itemId = newId('fc_mock_');
      const index = output.length;
      send({ type: 'response.output_item.added', output_index: index, item: { id: itemId, type: 'function_call', call_id: call.callId, name: call.name, arguments: '', status: 'in_progress' } });
      send({ type: 'response.function_call_arguments.delta', item_id: itemId, output_index: index, delta: call.arguments });
      const item = { id: itemId, type: 'function_call', call_id: call.callId, name: call.name, arguments: call.arguments, status: 'completed' };
      send({ type: 'response.output_item.done', output_index: index, item });
      output.push(item);
    }
    send({ type: 'response.completed', response: { ...base, status: 'completed', output, usage } });
    res.end();
  }

  const server = await startMockHttp(opts, arrive, handle, (res, err) => sendError(res, 500, 'server_error', `mock failure: ${String(err)}`));
  return mockControls(server, requests, replies);
}
