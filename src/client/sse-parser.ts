/**
 * A Server-Sent Events parser after the WHATWG "event stream interpretation" rules: lines end in
 * CRLF, LF or CR; `:` starts a comment; one optional space after the colon is dropped; `data:`
 * lines join with LF; a blank line dispatches; the last event id persists across events; an
 * unfinished event at the end of the stream is discarded. Chunks may split anything, including
 * a CRLF pair and a multi-byte character (bytes are decoded with a streaming TextDecoder).
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
  #buffer = '';
  /** The previous chunk ended in CR: a LF starting the next one belongs to that line end. */
  #pendingCR = false;
  #sawFirstChunk = false;
  #data: string[] = [];
  #hasData = false;
  #event = '';
  #id: string | undefined = undefined;
  #lastId = '';
  readonly #options: SseParserOptions;

  constructor(options: SseParserOptions = {}) {
    this.#options = options;
  }

  /** The last event id seen so far (what a reconnect sends as `Last-Event-ID`). */
  get lastEventId(): string {
    return this.#lastId;
  }

  feed(chunk: string): SseMessage[] {
    let text = chunk;
    if (!this.#sawFirstChunk && text.length > 0) {
      this.#sawFirstChunk = true;
      // A byte order mark is allowed once, at the very start of the stream.
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.#pendingCR && text.startsWith('\n')) text = text.slice(1);
    this.#pendingCR = false;
    this.#buffer += text;

    const out: SseMessage[] = [];
    let start = 0;
    for (;;) {
      const cr = this.#buffer.indexOf('\r', start);
      const lf = this.#buffer.indexOf('\n', start);
      if (cr === -1 && lf === -1) break;
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      const line = this.#buffer.slice(start, end);
      if (this.#buffer[end] === '\r') {
        if (end + 1 < this.#buffer.length) {
          start = this.#buffer[end + 1] === '\n' ? end + 2 : end + 1;
        } else {
          // CR at the end of what we have: the line is complete, but a LF may still follow.
          start = end + 1;
          this.#pendingCR = true;
        }
      } else {
        start = end + 1;
      }
      const message = this.#line(line);
      if (message) out.push(message);
    }
    this.#buffer = this.#buffer.slice(start);
    return out;
  }

  /** The stream ended: an event without its blank line is incomplete and dropped, per the spec. */
  end(): void {
    this.#buffer = '';
    this.#pendingCR = false;
    this.#resetEvent();
  }

  #line(line: string): SseMessage | null {
    if (line === '') return this.#dispatch();
    if (line.startsWith(':')) {
      this.#options.onComment?.(line.slice(1).replace(/^ /, ''));
      return null;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'event':
        this.#event = value;
        break;
      case 'data':
        this.#data.push(value);
        this.#hasData = true;
        break;
      case 'id':
        // An id with NUL is ignored, so a broken server cannot poison Last-Event-ID.
        if (!value.includes('\0')) {
          this.#lastId = value;
          this.#id = value;
        }
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.#options.onRetry?.(Number(value));
        break;
      default:
        // Unknown fields are ignored, per the spec.
        break;
    }
    return null;
  }

  #dispatch(): SseMessage | null {
    if (!this.#hasData) {
      this.#resetEvent();
      return null;
    }
    const message: SseMessage = { event: this.#event === '' ? 'message' : this.#event, data: this.#data.join('\n') };
    if (this.#id !== undefined) message.id = this.#id;
    this.#resetEvent();
    return message;
  }

  #resetEvent(): void {
    this.#data = [];
    this.#hasData = false;
    this.#event = '';
    this.#id = undefined;
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
