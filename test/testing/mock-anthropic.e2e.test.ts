/*
 * End-to-end proof of src/testing/mock-anthropic.ts against the REAL Claude Code binary
 * (Agent SDK 0.3.329 → Claude Code 2.1.329), plus a few plain-HTTP checks of the mock.
 *
 * Findings (observed with this binary, all offline against the mock):
 *
 * Traffic
 * - With CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 a plain turn makes exactly ONE request:
 *   POST /v1/messages?beta=true (stream: true). Without it the binary also sends
 *   `HEAD /api/hello` (connectivity probe, any 2xx is fine) on every process start and, on the
 *   first turn of a session, a title request: POST /v1/messages with `tools: []`, the title
 *   system prompt and `output_config.format = {type:'json_schema', schema:{title:string}}`.
 *   No count_tokens, /v1/models or quota calls were seen (count_tokens is answered anyway).
 * - Main-loop requests carry ~12 tools (Agent, Bash, Edit, Read, Write, ToolSearch, ...),
 *   `thinking: {type:'enabled'}`, `context_management`, max_tokens 32000, and with the Agent SDK's
 *   default (non-preset) system prompt a SHORT system ("You are a Claude agent, built on
 *   Anthropic's Claude Agent SDK."), so system length is NOT a usable discriminator; the tools
 *   list is (rule: main ⇔ ≥ 2 tools; see isMainRequest). User prompt text blocks are preceded by
 *   `<system-reminder>` text blocks in the same user message; the mock drops those from userTexts.
 *
 * Retries (the binary retries itself; the SDK reports each retry as a
 * `{type:'system', subtype:'api_retry', attempt, max_retries, retry_delay_ms, error_status, error}` message)
 * - 500 (error 'server_error'), 529 (error 'overloaded'), 429 (error 'rate_limit') and a dropped
 *   connection (error_status null, error 'unknown') are retried. Default max_retries is 10;
 *   delays are exponential from 500 ms with up to +25 % jitter (seen: 611, 1150, 2192, 4488 ms),
 *   capped at 32 s; `retry-after` is honoured (retry-after: 1 → ~1.0–1.3 s delay).
 * - CLAUDE_CODE_MAX_RETRIES=N caps the retries (0 = none; values > 15 are clamped to 15).
 *   mockAgentEnv sets it to 0, so one fault = one failed attempt = an error result.
 *   (There are also CLAUDE_CODE_OVERLOADED_RETRY_BASE_DELAY_MS / _MAX_DELAY_MS for 529s.)
 * - A stream dropped mid-reply is re-sent once as a NON-streaming request (stream: false) even
 *   with CLAUDE_CODE_MAX_RETRIES=0; if that also fails the turn ends with
 *   "API Error: Connection to the API was lost (ECONNRESET)...". The partial stream is billed.
 * - A generic 400 invalid_request_error is re-sent immediately (no api_retry message) with fewer
 *   `anthropic-beta` values (it dropped thinking-token-count-…, then more) before giving up.
 * - A hung request waits for API_TIMEOUT_MS (default 600 s); with API_TIMEOUT_MS=2000 the turn
 *   ends with "Request timed out. ... set API_TIMEOUT_MS above 2000."
 *
 * What an API failure looks like (after the retries are used up)
 * - An assistant message with `message.model: '<synthetic>'`, text "API Error: 500 Internal
 *   server error. ...", wrapper fields `error: 'server_error'` (also for 529!),
 *   `is_api_error_message: true`, `api_error_status: 500|529`, `api_error_type: 'api_error'|'overloaded_error'`.
 * - Then a result with `subtype: 'success'` (sic) but `is_error: true`, `api_error_status`,
 *   `api_error_type`, `terminal_reason: 'api_error'`, `stop_reason: 'stop_sequence'`,
 *   `result` = the same error text, zero usage.
 * - After yielding that result, the SDK's query() iterator THROWS
 *   `Error: Claude Code returned an error result: <text>`; callers must catch it.
 *
 * Results, cost, transcripts
 * - A cold turn (spawn + init + one request + exit) takes ~0.4–1 s here (2 cores).
 * - result.usage is the MAIN LOOP of this turn only (summed over its requests: a tool round trip
 *   adds both requests' tokens); result.modelUsage[model] and total_cost_usd are cumulative for
 *   the session: a resumed process's FIRST result already includes the earlier turns
 *   (priced at list price, claude-sonnet-4-5: $3/MTok in, $15/MTok out).
 * - modelUsage['claude-sonnet-4-5'].contextWindow = 200000, maxOutputTokens = 32000.
 * - system/init fields: type, subtype:'init', cwd, session_id, tools, mcp_servers, model,
 *   permissionMode, slash_commands, apiKeySource:'ANTHROPIC_API_KEY', claude_code_version:'2.1.329',
 *   output_style, agents, skills, plugins, capabilities, analytics_disabled, uuid, memory_paths, ...
 * - result fields: type:'result', subtype, is_error, api_error_status, num_turns, result,
 *   stop_reason, session_id, total_cost_usd, usage, modelUsage, permission_denials,
 *   terminal_reason:'completed'|'api_error', duration_ms, duration_api_ms, ttft_ms, uuid, ...
 * - Resuming keeps the same session_id. The transcript is
 *   $HOME/.claude/projects/<cwd with every non-alphanumeric char replaced by '-'>/<session_id>.jsonl
 *   (plus $HOME/.claude.json and $HOME/.claude/{backups,session-env,shell-snapshots,...}).
 */
import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { query } from '@anthropic-ai/claude-agent-sdk';
import type { SDKMessage, SDKResultMessage, SDKSystemMessage, SDKAssistantMessage } from '@anthropic-ai/claude-agent-sdk';
import {
  startMockAnthropic,
  mockAgentEnv,
  type MockAnthropic,
  type RecordedRequest,
} from '../../src/testing/mock-anthropic.js';

const MODEL = 'claude-sonnet-4-5';
const tempDirs: string[] = [];

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

interface Turn {
  messages: SDKMessage[];
  init?: SDKSystemMessage;
  result?: SDKResultMessage;
  error?: unknown;
  ms: number;
}

interface Ctx { cwd: string; home: string }

function newCtx(): Ctx {
  return { cwd: tempDir('mock-e2e-cwd-'), home: tempDir('mock-e2e-home-') };
}

async function runTurn(
  mock: MockAnthropic,
  ctx: Ctx,
  prompt: string,
  o: { resume?: string; env?: Record<string, string> } = {},
): Promise<Turn> {
  const messages: SDKMessage[] = [];
  const t0 = Date.now();
  let error: unknown;
  try {
    for await (const m of query({
      prompt,
      options: {
        cwd: ctx.cwd,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: ctx.home, ...mockAgentEnv(mock, o.env) },
        model: MODEL,
        permissionMode: 'default',
        settingSources: [],
        ...(o.resume ? { resume: o.resume } : {}),
      },
    })) {
      messages.push(m);
    }
  } catch (e) {
    error = e;
  }
  return {
    messages,
    init: messages.find((m): m is SDKSystemMessage => m.type === 'system' && m.subtype === 'init'),
    result: messages.find((m): m is SDKResultMessage => m.type === 'result'),
    error,
    ms: Date.now() - t0,
  };
}

/** The loosely typed view of a result (error results carry fields the typings only partly declare). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const loose = (x: unknown): any => x;

function retries(turn: Turn): Array<{ attempt: number; max_retries: number; retry_delay_ms: number; error_status: number | null; error: string }> {
  return turn.messages.filter((m) => m.type === 'system' && loose(m).subtype === 'api_retry').map(loose);
}

function apiErrorMessage(turn: Turn): SDKAssistantMessage | undefined {
  return turn.messages.find((m): m is SDKAssistantMessage => m.type === 'assistant' && loose(m).is_api_error_message === true);
}

function toolResults(req: RecordedRequest): Array<{ tool_use_id: string; content: unknown }> {
  const out: Array<{ tool_use_id: string; content: unknown }> = [];
  for (const m of req.body?.messages ?? []) {
    if (m.role !== 'user' || !Array.isArray(m.content)) continue;
    for (const b of m.content) if (b?.type === 'tool_result') out.push(b);
  }
  return out;
}

const flatten = (content: unknown): string =>
  typeof content === 'string' ? content : JSON.stringify(content);

describe.sequential('mock Anthropic API with the real Claude Code binary', () => {
  let mock: MockAnthropic;

  beforeAll(async () => {
    mock = await startMockAnthropic();
  });
  afterAll(async () => {
    await mock?.stop();
    for (const d of tempDirs) rmSync(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  });
  beforeEach(() => mock.reset());

  it('runs one turn: the mock text comes back in the result with the usage the mock reported', async () => {
    const ctx = newCtx();
    mock.enqueue({ text: 'Hello from the mock, in several chunks.', usage: { inputTokens: 1234, outputTokens: 56, cacheReadTokens: 789, cacheWriteTokens: 10 } });
    const turn = await runTurn(mock, ctx, 'first prompt');
    console.info(`cold turn: ${turn.ms} ms`);

    expect(turn.error).toBeUndefined();
    expect(turn.init).toMatchObject({ type: 'system', subtype: 'init', cwd: ctx.cwd, model: MODEL, permissionMode: 'default', apiKeySource: 'ANTHROPIC_API_KEY' });
    expect(turn.init?.tools).toEqual(expect.arrayContaining(['Bash', 'Read']));
    const r = loose(turn.result);
    expect(r).toMatchObject({ type: 'result', subtype: 'success', is_error: false, result: 'Hello from the mock, in several chunks.', num_turns: 1, terminal_reason: 'completed', session_id: turn.init?.session_id });
    expect(r.usage).toMatchObject({ input_tokens: 1234, output_tokens: 56, cache_read_input_tokens: 789, cache_creation_input_tokens: 10 });
    expect(r.modelUsage[MODEL]).toMatchObject({ inputTokens: 1234, outputTokens: 56, cacheReadInputTokens: 789, cacheCreationInputTokens: 10, contextWindow: 200000 });
    expect(r.total_cost_usd).toBeGreaterThan(0);

    // Exactly one request, the main one (non-essential traffic is off).
    expect(mock.requests).toHaveLength(1);
    const req = mock.requests[0]!;
    expect(req).toMatchObject({ path: '/v1/messages', method: 'POST', main: true, stream: true, model: MODEL, userTexts: ['first prompt'], lastUserText: 'first prompt' });
    expect(req.response?.usage).toEqual({ input_tokens: 1234, output_tokens: 56, cache_read_input_tokens: 789, cache_creation_input_tokens: 10 });
    expect(req.endedAt).toBeGreaterThanOrEqual(req.startedAt);

    // Transcript location.
    const transcript = join(ctx.home, '.claude', 'projects', ctx.cwd.replace(/[^a-zA-Z0-9]/g, '-'), `${r.session_id}.jsonl`);
    expect(existsSync(transcript)).toBe(true);
  }, 120_000);

  it('resumes in new processes: the 3rd turn carries the first two prompts; cost is cumulative', async () => {
    const ctx = newCtx();
    const t1 = await runTurn(mock, ctx, 'alpha prompt');
    const sid = t1.result!.session_id;
    expect(loose(t1.result).result).toBe('Reply #1: alpha prompt');

    const t2 = await runTurn(mock, ctx, 'beta prompt', { resume: sid });
    expect(loose(t2.result).result).toBe('Reply #2: beta prompt');
    const t3 = await runTurn(mock, ctx, 'gamma prompt', { resume: sid });
    expect(t3.error).toBeUndefined();
    expect(loose(t3.result).result).toBe('Reply #3: gamma prompt');
    expect(t3.result!.session_id).toBe(sid);

    const mains = mock.mainRequests();
    expect(mains).toHaveLength(3);
    expect(mains[2]!.userTexts).toEqual(['alpha prompt', 'beta prompt', 'gamma prompt']);
    // The earlier assistant replies are in the history too.
    expect(JSON.stringify(mains[2]!.body.messages)).toContain('Reply #2: beta prompt');

    // usage: this turn only; modelUsage and total_cost_usd: the whole session, even right after a resume.
    const inputs = mains.map((m) => m.response!.usage!.input_tokens);
    const r2 = loose(t2.result);
    const r3 = loose(t3.result);
    expect(r3.usage.input_tokens).toBe(inputs[2]);
    expect(r2.modelUsage[MODEL].inputTokens).toBe(inputs[0]! + inputs[1]!);
    expect(r3.modelUsage[MODEL].inputTokens).toBe(inputs[0]! + inputs[1]! + inputs[2]!);
    const price = (m: RecordedRequest): number => (m.response!.usage!.input_tokens * 3 + m.response!.usage!.output_tokens * 15) / 1e6;
    expect(loose(t1.result).total_cost_usd).toBeCloseTo(price(mains[0]!), 6);
    expect(r2.total_cost_usd).toBeCloseTo(price(mains[0]!) + price(mains[1]!), 6);
    expect(r3.total_cost_usd).toBeCloseTo(price(mains[0]!) + price(mains[1]!) + price(mains[2]!), 6);
  }, 120_000);

  it('executes scripted tool calls (Read, then Bash) and sends their tool_results back', async () => {
    const ctx = newCtx();
    const file = join(ctx.cwd, 'note.txt');
    writeFileSync(file, 'the secret is 42\n');
    mock.enqueue(
      { text: 'Let me read it.', toolUse: { name: 'Read', input: { file_path: file }, id: 'toolu_read_1' } },
      { toolUse: { name: 'Bash', input: { command: 'echo hi', description: 'Say hi' }, id: 'toolu_bash_1' } },
      { text: 'All done.' },
    );
    const turn = await runTurn(mock, ctx, 'read the note');
    expect(turn.error).toBeUndefined();
    expect(loose(turn.result)).toMatchObject({ is_error: false, result: 'All done.' });

    const mains = mock.mainRequests();
    expect(mains).toHaveLength(3);
    expect(mains[0]!.response?.stopReason).toBe('tool_use');
    const r1 = toolResults(mains[1]!);
    expect(r1.map((b) => b.tool_use_id)).toEqual(['toolu_read_1']);
    expect(flatten(r1[0]!.content)).toContain('the secret is 42');
    const r2 = toolResults(mains[2]!);
    expect(r2.map((b) => b.tool_use_id)).toEqual(['toolu_read_1', 'toolu_bash_1']);
    expect(flatten(r2[1]!.content)).toMatch(/^hi\b/);
    // tool_result blocks are not user texts.
    expect(mains[2]!.userTexts).toEqual(['read the note']);
    // result.usage sums the turn's three main requests.
    expect(loose(turn.result).usage.input_tokens).toBe(mains.reduce((n, m) => n + m.response!.usage!.input_tokens, 0));
  }, 120_000);

  it('500 and 529 with CLAUDE_CODE_MAX_RETRIES=0: no retry, an is_error result, and query() throws', async () => {
    for (const [status, type] of [[500, 'api_error'], [529, 'overloaded_error']] as const) {
      mock.reset();
      mock.enqueue({ fault: { kind: 'status', status } });
      const turn = await runTurn(mock, newCtx(), `fail with ${status}`);
      expect(mock.mainRequests()).toHaveLength(1);
      expect(retries(turn)).toEqual([]);
      expect(String(turn.error)).toContain('Claude Code returned an error result');
      const msg = apiErrorMessage(turn);
      expect(loose(msg)).toMatchObject({ error: 'server_error', api_error_status: status, api_error_type: type });
      expect(msg?.message.model).toBe('<synthetic>');
      const r = loose(turn.result);
      expect(r).toMatchObject({ type: 'result', subtype: 'success', is_error: true, api_error_status: status, api_error_type: type, terminal_reason: 'api_error' });
      expect(r.result).toMatch(new RegExp(`^API Error: ${status} `));
    }
  }, 120_000);

  it('500 and 529 with CLAUDE_CODE_MAX_RETRIES=1: one retry after ~0.5 s, then success or error', async () => {
    for (const [status, error] of [[500, 'server_error'], [529, 'overloaded']] as const) {
      // One fault: retried once, then the turn succeeds.
      mock.reset();
      mock.enqueue({ fault: { kind: 'status', status } });
      const ok = await runTurn(mock, newCtx(), `recover from ${status}`, { env: { CLAUDE_CODE_MAX_RETRIES: '1' } });
      expect(ok.error).toBeUndefined();
      const [retry] = retries(ok);
      expect(retry).toMatchObject({ attempt: 1, max_retries: 1, error_status: status, error });
      expect(retry!.retry_delay_ms).toBeGreaterThanOrEqual(500);
      expect(retry!.retry_delay_ms).toBeLessThanOrEqual(650);
      const mains = mock.mainRequests();
      expect(mains).toHaveLength(2);
      expect(mains[1]!.startedAt - mains[0]!.startedAt).toBeGreaterThanOrEqual(480);
      expect(loose(ok.result)).toMatchObject({ is_error: false, result: `Reply #1: recover from ${status}` });

      // Two faults: the single retry fails too.
      mock.reset();
      mock.enqueue({ fault: { kind: 'status', status } }, { fault: { kind: 'status', status } });
      const bad = await runTurn(mock, newCtx(), `give up on ${status}`, { env: { CLAUDE_CODE_MAX_RETRIES: '1' } });
      expect(mock.mainRequests()).toHaveLength(2);
      expect(loose(bad.result)).toMatchObject({ is_error: true, api_error_status: status });
    }
  }, 120_000);

  it('without CLAUDE_CODE_MAX_RETRIES the binary allows 10 retries; 429 honours retry-after', async () => {
    mock.enqueue({ fault: { kind: 'status', status: 529 } });
    const t = await runTurn(mock, newCtx(), 'default retries', { env: { CLAUDE_CODE_MAX_RETRIES: '' } });
    expect(retries(t)[0]).toMatchObject({ attempt: 1, max_retries: 10, error_status: 529, error: 'overloaded' });
    expect(loose(t.result).is_error).toBe(false);

    mock.reset();
    mock.enqueue({ fault: { kind: 'status', status: 429, retryAfterSec: 1 } });
    const r = await runTurn(mock, newCtx(), 'rate limited', { env: { CLAUDE_CODE_MAX_RETRIES: '1' } });
    const [retry] = retries(r);
    expect(retry).toMatchObject({ attempt: 1, error_status: 429, error: 'rate_limit' });
    expect(retry!.retry_delay_ms).toBeGreaterThanOrEqual(1000);
    expect(retry!.retry_delay_ms).toBeLessThanOrEqual(1300);
    expect(loose(r.result).is_error).toBe(false);
  }, 120_000);

  it('a dropped stream is re-sent once without streaming; a hang ends at API_TIMEOUT_MS', async () => {
    mock.enqueue({ text: 'this reply gets cut off', fault: { kind: 'drop' } }, { text: 'saved by the non-streaming fallback' });
    const ok = await runTurn(mock, newCtx(), 'drop once');
    expect(mock.mainRequests().map((m) => m.stream)).toEqual([true, false]);
    expect(loose(ok.result)).toMatchObject({ is_error: false, result: 'saved by the non-streaming fallback' });

    mock.reset();
    mock.enqueue({ text: 'cut', fault: { kind: 'drop' } }, { text: 'cut again', fault: { kind: 'drop' } });
    const bad = await runTurn(mock, newCtx(), 'drop twice');
    expect(mock.mainRequests()).toHaveLength(2);
    expect(loose(bad.result)).toMatchObject({ is_error: true, terminal_reason: 'api_error' });
    expect(loose(bad.result).result).toContain('Connection to the API was lost');

    mock.reset();
    mock.enqueue({ fault: { kind: 'hang' } });
    const hung = await runTurn(mock, newCtx(), 'hang', { env: { API_TIMEOUT_MS: '2000' } });
    expect(mock.mainRequests()).toHaveLength(1);
    expect(hung.ms).toBeGreaterThanOrEqual(2000);
    expect(loose(hung.result)).toMatchObject({ is_error: true, terminal_reason: 'api_error' });
    expect(loose(hung.result).result).toContain('Request timed out');
  }, 120_000);

  it('with non-essential traffic on, the hello probe and the title request are side requests', async () => {
    const ctx = newCtx();
    const turn = await runTurn(mock, ctx, 'name this session', {
      env: { CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '' },
    });
    expect(loose(turn.result)).toMatchObject({ is_error: false, result: 'Reply #1: name this session' });
    const mains = mock.mainRequests();
    expect(mains).toHaveLength(1);
    const side = mock.requests.filter((r) => !r.main);
    // Whatever side traffic there is, it never reaches the reply queue and is answered with 2xx.
    for (const s of side) expect(s.response?.status).toBeGreaterThanOrEqual(200);
    for (const s of side) expect(s.response?.status).toBeLessThan(300);
    expect(side.map((s) => `${s.method} ${s.path}`).sort()).toEqual(['HEAD /api/hello', 'POST /v1/messages']);
    const title = side.find((s) => s.path === '/v1/messages')!;
    expect(title.body.tools ?? []).toHaveLength(0);
    expect(title.body.output_config?.format?.type).toBe('json_schema');
    expect(JSON.parse(title.response!.text!)).toEqual({ title: expect.any(String) });
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------
// The mock on its own, over plain HTTP.

function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> {
  return new Promise((resolve, reject) => {
    const data = typeof body === 'string' ? body : JSON.stringify(body);
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

function sse(text: string): Array<{ event: string; data: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  return text.split('\n\n').filter((f) => f.trim() !== '').map((frame) => {
    const event = /^event: (.*)$/m.exec(frame)?.[1] ?? '';
    const data = JSON.parse(/^data: (.*)$/m.exec(frame)?.[1] ?? 'null');
    return { event, data };
  });
}

const MAIN_BODY = (messages: unknown[], stream = true) => ({
  model: MODEL, max_tokens: 1000, stream, messages,
  tools: [{ name: 'Bash', input_schema: { type: 'object' } }, { name: 'Read', input_schema: { type: 'object' } }],
});

describe('mock Anthropic API over HTTP', () => {
  it('streams text and tool_use in the real SSE shape and records the request', async () => {
    const mock = await startMockAnthropic();
    try {
      mock.enqueue({ text: 'Hello world, streaming', toolUse: { name: 'Bash', input: { command: 'ls' }, id: 'toolu_x' }, usage: { inputTokens: 7, outputTokens: 9, cacheReadTokens: 3 } });
      const res = await post(`${mock.url}/v1/messages?beta=true`, MAIN_BODY([
        { role: 'user', content: [{ type: 'text', text: '<system-reminder>\nctx\n</system-reminder>' }, { type: 'text', text: 'hi' }] },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: 'x' }] },
        { role: 'user', content: 'second' },
      ]));
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toContain('text/event-stream');
      expect(res.headers['request-id']).toBeTruthy();
      const events = sse(res.text);
      expect(events.every((e) => e.event === e.data.type)).toBe(true);
      const names = events.map((e) => e.event);
      expect(names[0]).toBe('message_start');
      expect(names).toContain('ping');
      expect(names.slice(-2)).toEqual(['message_delta', 'message_stop']);
      expect(events[0]!.data.message.usage).toMatchObject({ input_tokens: 7, cache_read_input_tokens: 3, cache_creation_input_tokens: 0 });
      const textDeltas = events.filter((e) => e.data.delta?.type === 'text_delta').map((e) => e.data.delta.text);
      expect(textDeltas.length).toBeGreaterThan(1);
      expect(textDeltas.join('')).toBe('Hello world, streaming');
      const toolStart = events.find((e) => e.data.content_block?.type === 'tool_use');
      expect(toolStart?.data).toMatchObject({ index: 1, content_block: { id: 'toolu_x', name: 'Bash', input: {} } });
      const json = events.filter((e) => e.data.delta?.type === 'input_json_delta').map((e) => e.data.delta.partial_json).join('');
      expect(JSON.parse(json)).toEqual({ command: 'ls' });
      expect(names.filter((n) => n === 'content_block_stop')).toHaveLength(2);
      expect(events.at(-2)!.data).toMatchObject({ delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 9 } });

      const rec = mock.requests[0]!;
      expect(rec).toMatchObject({ path: '/v1/messages', main: true, stream: true, userTexts: ['hi', 'second'], lastUserText: 'second' });
      expect(rec.endedAt).toBeDefined();
    } finally {
      await mock.stop();
    }
  });

  it('answers non-streaming, side, count_tokens, unknown routes and status faults like the API', async () => {
    const mock = await startMockAnthropic({ reply: (r) => ({ text: `custom ${r.userTexts.length}` }) });
    try {
      const ns = await post(`${mock.url}/v1/messages`, MAIN_BODY([{ role: 'user', content: 'one' }], false));
      const msg = JSON.parse(ns.text);
      expect(msg).toMatchObject({ type: 'message', role: 'assistant', model: MODEL, content: [{ type: 'text', text: 'custom 1' }], stop_reason: 'end_turn' });
      expect(msg.usage.input_tokens).toBe(Math.ceil(JSON.stringify(mock.requests[0]!.body).length / 4));
      expect(msg.usage.output_tokens).toBe(Math.ceil('custom 1'.length / 4));

      // Side request: queue untouched, short answer; structured output gets schema-shaped JSON.
      mock.enqueue({ text: 'for main only' });
      const side = await post(`${mock.url}/v1/messages`, { model: 'claude-haiku-4-5', max_tokens: 50, messages: [{ role: 'user', content: 'title?' }], output_config: { format: { type: 'json_schema', schema: { type: 'object', properties: { title: { type: 'string' } }, required: ['title'] } } } });
      expect(JSON.parse(JSON.parse(side.text).content[0].text)).toEqual({ title: expect.any(String) });
      expect(mock.requests[1]!.main).toBe(false);
      expect(mock.pending()).toBe(1);

      const ct = await post(`${mock.url}/v1/messages/count_tokens?beta=true`, { model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(400) }] });
      expect(JSON.parse(ct.text).input_tokens).toBeGreaterThan(100);

      const nf = await post(`${mock.url}/v1/nope`, {});
      expect(nf.status).toBe(404);
      expect(JSON.parse(nf.text)).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });

      mock.reset();
      mock.enqueue({ fault: { kind: 'status', status: 529 } }, { fault: { kind: 'status', status: 429, retryAfterSec: 7, message: 'slow down' } });
      const o = await post(`${mock.url}/v1/messages`, MAIN_BODY([{ role: 'user', content: 'a' }]));
      expect(o.status).toBe(529);
      expect(JSON.parse(o.text)).toEqual({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
      expect(o.headers['request-id']).toBeTruthy();
      const rl = await post(`${mock.url}/v1/messages`, MAIN_BODY([{ role: 'user', content: 'a' }]));
      expect(rl.status).toBe(429);
      expect(rl.headers['retry-after']).toBe('7');
      expect(JSON.parse(rl.text)).toEqual({ type: 'error', error: { type: 'rate_limit_error', message: 'slow down' } });
      expect(mock.requests.map((r) => r.response?.status)).toEqual([529, 429]);
    } finally {
      await mock.stop();
    }
  });

  it('drop cuts the stream mid-reply; hang never answers until stop()', async () => {
    const mock = await startMockAnthropic();
    mock.enqueue({ text: 'a fairly long reply to cut', fault: { kind: 'drop' } }, { fault: { kind: 'hang' } });
    const dropped = await post(`${mock.url}/v1/messages`, MAIN_BODY([{ role: 'user', content: 'a' }])).then(
      (r) => r.text,
      (e: unknown) => `error: ${String(e)}`,
    );
    expect(dropped).not.toContain('message_stop');
    const hung = post(`${mock.url}/v1/messages`, MAIN_BODY([{ role: 'user', content: 'b' }])).then(() => 'answered', () => 'destroyed');
    await new Promise((r) => setTimeout(r, 200));
    expect(mock.requests[1]!.endedAt).toBeUndefined();
    const t0 = Date.now();
    await mock.stop();
    expect(await hung).toBe('destroyed');
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
