/** The HTTP client: a `Tether` backed by a running daemon (`tether serve`). */
export { connectTether, type ConnectOptions } from './http-tether.js';
export type { RetryPolicy } from './turn-stream.js';
export { SseParser, readSse, type SseMessage, type SseParserOptions } from './sse-parser.js';
