import { createParser, type EventSourceParser } from 'eventsource-parser';

/**
 * Server-Sent Events for the HTTP client, parsed by eventsource-parser (the WHATWG "event stream
 * interpretation" rules: CRLF, LF or CR line ends, comments, multi-line data, no dispatch without
 * data, an unfinished event at the end dropped). This file only adapts it to what the client
 * reads: `event` defaulting to `message`, each event's own `id`, bytes decoded across chunks.
 */

/** One dispatched event. */
export interface SseMessage {
  /** The `event:` field; `message` when the event named none. */
  event: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
  /**
   * This event's own `id:` field, if it had one. (Browsers expose the *persisting* last event id
   * instead; that one is `SseParser.lastEventId`. A per-event id lets a reader tell an event
   * without an id from a repeat of the previous one.)
   */
  id?: string;
}

export interface SseParserOptions {
  /** Called with a comment's text (after the colon), e.g. keep-alives. */
  onComment?: (text: string) => void;
  /** Called when the server sets the reconnection time (`retry:` in milliseconds). */
  onRetry?: (ms: number) => void;
}

/** Incremental parser: `feed` text chunks as they arrive, get the events they complete. */
export class SseParser {
  readonly #parser: EventSourceParser;
  #dispatched: SseMessage[] = [];
  #lastId = '';
  #sawFirstChunk = false;
  /** The previous chunk ended in CR, fed as CRLF: a LF starting this one belongs to it. */
  #pendingCR = false;

  constructor(options: SseParserOptions = {}) {
    this.#parser = createParser({
      onEvent: ({ event, data, id }) => {
        const message: SseMessage = { event: event ?? 'message', data };
        if (id !== undefined) {
          message.id = id;
          this.#lastId = id;
        }
        this.#dispatched.push(message);
      },
      ...(options.onComment ? { onComment: options.onComment } : {}),
      ...(options.onRetry ? { onRetry: options.onRetry } : {}),
    });
  }

  /**
   * The last event id seen so far (what a reconnect sends as `Last-Event-ID`). Only ids of
   * dispatched events count: eventsource-parser does not report an `id:` in a block without
   * data, which Tether's server never sends.
   */
  get lastEventId(): string {
    return this.#lastId;
  }

  feed(chunk: string): SseMessage[] {
    let text = chunk;
    if (!this.#sawFirstChunk && text.length > 0) {
      this.#sawFirstChunk = true;
      // A byte order mark is allowed once, at the very start (the parser drops only its UTF-8 bytes).
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.#pendingCR && text.startsWith('\n')) text = text.slice(1);
    this.#pendingCR = text.endsWith('\r');
    // A CR ending a chunk ends its line now: the parser would hold it until the next chunk shows
    // whether a LF follows, and an event ended by it would wait for the server's next bytes.
    this.#parser.feed(this.#pendingCR ? `${text}\n` : text);
    const out = this.#dispatched;
    this.#dispatched = [];
    return out;
  }

  /** The stream ended: an event without its blank line is incomplete and dropped, per the spec. */
  end(): void {
    this.#parser.reset();
    this.#dispatched = [];
    this.#pendingCR = false;
  }
}

/**
 * The events of an SSE response body, as they arrive. Ends when the body ends; throws what the
 * body throws (a cut connection, an abort). Bytes are decoded as UTF-8 across chunk boundaries.
 */
export async function* readSse(body: AsyncIterable<Uint8Array>, options: SseParserOptions = {}): AsyncGenerator<SseMessage> {
  const parser = new SseParser(options);
  const decoder = new TextDecoder('utf-8');
  for await (const bytes of body) {
    yield* parser.feed(decoder.decode(bytes, { stream: true }));
  }
  yield* parser.feed(decoder.decode());
  parser.end();
}
