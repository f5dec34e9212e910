import type { SendOptions, SequencedEvent, TurnHandle } from '../broker/api.js';
import { TurnHandleImpl } from '../broker/turn-handle.js';
import { TurnLog } from '../broker/turn-events/turn-log.js';
import { validateKey } from '../domain/keys.js';
import type { SendMessageBody, SessionOptionsBody } from '../server/schemas.js';
import { ErrorCode, TetherError, invalidInput, toTetherError } from '../errors.js';
import { readJSON, type HttpClient } from './http.js';
import { eventOf } from './records.js';
import { DEFAULT_RETRY, SeqFilter, STREAM_HEADERS, followTurn, isRetryable, sequencedEvents, type RetryPolicy } from './turn-stream.js';

/** What a send needs from the client it belongs to. */
export interface SendDeps {
  http: HttpClient;
  retry?: RetryPolicy;
  /** Aborted by `close()`: every stream of the client stops. */
  closed: AbortSignal;
}

/**
 * What a turn sends: a prompt (`POST …/messages`), or an operation whose prompt the daemon looks
 * up (`POST …/regenerate`, `POST …/continue`).
 */
export type TurnRequest = { prompt: string } | { operation: 'regenerate' | 'continue' };

/**
 * A turn over HTTP (`send()`, `regenerate()`, `continue()`): POST the request asking for SSE,
 * push its events into a TurnHandle, and resume from `/v1/turns/{id}/events` if the stream
 * breaks before the terminal event.
 *
 * Interrupting: the HTTP API interrupts *the key's running turn*, so the request is only made
 * once this turn has started (a turn still queued behind another would otherwise stop that one).
 * A queued turn therefore cannot be withdrawn over HTTP; it is stopped as soon as it starts.
 *
 * The returned promise settles when the handle has; it never rejects.
 */
export function sendTurn(deps: SendDeps, key: string, request: TurnRequest, options: SendOptions = {}): { handle: TurnHandle; done: Promise<void> } {
  const handle = new TurnHandleImpl();
  if (options.signal) {
    const signal = options.signal;
    if (signal.aborted) handle.interrupt();
    else signal.addEventListener('abort', () => handle.interrupt(), { once: true });
  }
  // The handle's events: what the daemon streams of this turn, kept for a late reader.
  const log = new TurnLog();
  const done = run(deps, handle, log, key, request, options).catch((err: unknown) => {
    log.end();
    handle.fail(toTetherError(err));
  });
  return { handle, done };
}

async function run(deps: SendDeps, handle: TurnHandleImpl, log: TurnLog, key: string, request: TurnRequest, options: SendOptions): Promise<void> {
  const { http, closed } = deps;
  if (closed.aborted) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, 'this Tether client is closed');
  validateKey(key);
  const { route, body } = requestOf(request, options);
  const path = `/v1/sessions/${encodeURIComponent(key)}`;
  const state = new TurnState(handle, log, () => {
    // The interrupt is best effort: the stream reports how the turn really ended.
    void http.request('POST', `${path}/interrupt`, { signal: closed }).then(
      (r) => r.body?.cancel().catch(() => undefined),
      () => undefined,
    );
  });

  let response: Response;
  try {
    response = await http.request('POST', `${path}/${route}`, { body, headers: STREAM_HEADERS, signal: closed });
  } catch (err) {
    throw closed.aborted ? closedError(null) : err;
  }

  if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    // A daemon (or proxy) that ignored Accept answered with the turn.completed JSON.
    const payload = await readJSON(response);
    state.onEvent({ seq: 0, event: eventOf(JSON.stringify(payload)) });
    if (!state.ended) throw new TetherError(ErrorCode.INTERNAL, 'the daemon answered the message without a turn.completed payload');
    return;
  }

  const filter = new SeqFilter();
  let breakCause: unknown;
  try {
    for await (const item of sequencedEvents(response)) {
      if (filter.admit(item)) state.onEvent(item);
      if (state.ended) return;
    }
    breakCause = new Error('the stream ended before the turn did');
  } catch (err) {
    if (!closed.aborted && !isRetryable(err)) throw err;
    breakCause = err;
  }
  if (closed.aborted) throw closedError(state.turnId);
  if (state.turnId === null) {
    throw new TetherError(
      ErrorCode.AGENT_UNAVAILABLE,
      `the connection to the Tether daemon at ${http.base} broke before it acknowledged the message; it may or may not have been accepted (check with \`tether turns ${JSON.stringify(key)}\`)`,
      { cause: breakCause },
    );
  }

  for await (const item of followTurn(http, state.turnId, { filter, signal: closed, retry: deps.retry ?? DEFAULT_RETRY, alreadyFailed: 1 })) {
    state.onEvent(item);
    if (state.ended) return;
  }
  // followTurn ends without a terminal event only when the client was closed.
  throw closedError(state.turnId);
}

/** The route under `/v1/sessions/{key}/` and the body of the contract for a turn request. */
function requestOf(request: TurnRequest, options: SendOptions): { route: string; body: unknown } {
  if ('prompt' in request) return { route: 'messages', body: bodyOf(request.prompt, options) };
  // `continue` may say what to do when the session is busy; `regenerate` takes nothing.
  return { route: request.operation, body: request.operation === 'continue' && options.onBusy ? { onBusy: options.onBusy } : {} };
}

/** The message body of the contract; the tenant comes from the token, `env` is the operator's. */
function bodyOf(prompt: string, options: SendOptions): SendMessageBody {
  if (options.env !== undefined) throw invalidInput('env cannot be set over HTTP: the agent environment is the daemon operator\'s');
  const session: SessionOptionsBody = {};
  if (options.cwd !== undefined) session.cwd = options.cwd;
  if (options.model !== undefined) session.model = options.model;
  if (options.permissionMode !== undefined) session.permissionMode = options.permissionMode;
  if (options.appendSystemPrompt !== undefined) session.appendSystemPrompt = options.appendSystemPrompt;
  if (options.maxTurns !== undefined) session.maxTurns = options.maxTurns;
  if (options.allowedTools !== undefined) session.allowedTools = options.allowedTools;
  if (options.disallowedTools !== undefined) session.disallowedTools = options.disallowedTools;
  if (options.approvals !== undefined) session.approvals = options.approvals;
  if (options.approvalTimeoutSec !== undefined) session.approvalTimeoutSec = options.approvalTimeoutSec;
  if (options.approvalRules !== undefined) session.approvalRules = options.approvalRules;
  if (options.labels !== undefined) session.labels = options.labels;
  // JSON by contract; the daemon validates it like every other option.
  if (options.metadata !== undefined) session.metadata = options.metadata as SessionOptionsBody['metadata'];
  if (options.taskId !== undefined) session.taskId = options.taskId;
  if (options.mcpSessionId !== undefined) session.mcpSessionId = options.mcpSessionId;
  return {
    prompt,
    ...(Object.keys(session).length > 0 ? { options: session } : {}),
    ...(options.onBusy !== undefined ? { onBusy: options.onBusy } : {}),
  };
}

const closedError = (turnId: string | null): TetherError =>
  new TetherError(
    ErrorCode.AGENT_UNAVAILABLE,
    turnId === null ? 'the Tether client was closed before the daemon acknowledged the message' : `the Tether client was closed before turn ${turnId} ended; the daemon still runs it`,
  );

/** Feeds a handle from the stream, settles it on the terminal event, and times the interrupt. */
class TurnState {
  turnId: string | null = null;
  ended = false;
  #started = false;
  #interruptWanted = false;
  #interruptSent = false;
  readonly #handle: TurnHandleImpl;
  readonly #log: TurnLog;
  readonly #sendInterrupt: () => void;

  constructor(handle: TurnHandleImpl, log: TurnLog, sendInterrupt: () => void) {
    this.#handle = handle;
    this.#log = log;
    this.#sendInterrupt = sendInterrupt;
    handle.controller.signal.addEventListener(
      'abort',
      () => {
        this.#interruptWanted = true;
        this.#maybeInterrupt();
      },
      { once: true },
    );
  }

  onEvent({ event }: SequencedEvent): void {
    if (this.ended) return;
    // The POST stream is this turn's; session events belong to the `on()` tail, as in-process.
    if (!('turnId' in event)) return;
    if (this.turnId !== null && event.turnId !== this.turnId) return;
    switch (event.type) {
      case 'turn.queued':
        this.turnId = event.turnId;
        this.#handle.accept({ turnId: event.turnId, sessionId: event.sessionId, seq: event.seq }, this.#log.reader());
        break;
      case 'turn.started':
        this.#started = true;
        break;
      case 'turn.completed':
        // A daemon that skipped turn.queued (a JSON answer) still yields an accepted turn.
        this.turnId ??= event.turnId;
        this.#handle.accept({ turnId: event.turnId, sessionId: event.sessionId, seq: 0 }, this.#log.reader());
        break;
      default:
        break;
    }
    this.#log.append(event);
    if (event.type === 'turn.completed') this.#end(() => this.#handle.succeed(event));
    else if (event.type === 'turn.failed') {
      const code = Object.values(ErrorCode).find((c) => c === event.error.code) ?? ErrorCode.AGENT_FAILED;
      this.#end(() => this.#handle.fail(new TetherError(code, event.error.message)));
    } else this.#maybeInterrupt();
  }

  #end(settle: () => void): void {
    this.ended = true;
    settle();
  }

  #maybeInterrupt(): void {
    if (!this.#interruptWanted || this.#interruptSent || !this.#started || this.ended) return;
    this.#interruptSent = true;
    this.#sendInterrupt();
  }
}
