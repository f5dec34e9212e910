/** The mock Messages API's scripting and recording types (see mock-anthropic.ts). */
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

/** When and how a scripted answer of any mock API comes: its delay, its pace, or a fault instead. */
export interface MockReplyTiming {
  /** Wait this long before the first byte of the response. */
  delayMs?: number;
  /** The text's delta chunks (default 3), and the pause between two of them (default 2 ms). */
  chunks?: number;
  chunkDelayMs?: number;
  /** Fail instead of answering normally. */
  fault?: MockFault;
}

/** One scripted answer to a Messages API request. */
export interface MockReply extends MockReplyTiming {
  /** Assistant text, streamed in several `text_delta` chunks. */
  text?: string;
  /** A `tool_use` block after the text; the reply then ends with `stop_reason: "tool_use"`. */
  toolUse?: { name: string; input: Record<string, unknown>; id?: string };
  /** Overrides the reported usage for this reply. */
  usage?: MockUsage;
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

/** A request a mock model API received, as it records it. */
export interface RecordedExchange {
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
  /** The plain text of every user message of the conversation sent, in order (tool results excluded). */
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

/** A request the Messages mock received, as recorded in {@link MockAnthropic.requests}. */
export interface RecordedRequest extends RecordedExchange {
  /**
   * true for the agent's main conversation requests, false for side requests
   * (title generation, quota probes, token counting...). See {@link isMainRequest} for the rule.
   */
  main: boolean;
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
