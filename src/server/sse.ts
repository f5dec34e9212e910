import type { FastifyReply } from 'fastify';

/**
 * One Server-Sent Events response, written on the raw socket (the reply is hijacked: fastify's
 * serializers and hooks do not apply to a stream that never finishes on its own).
 */
export interface SseStream {
  /** Aborted when the client goes away or the stream is ended; pass it to whatever feeds the stream. */
  readonly signal: AbortSignal;
  readonly closed: boolean;
  /**
   * Writes one event: `id:` (when given), `event:`, one `data:` line of JSON. Resolves once the
   * socket took it (waiting out back-pressure); false when the client is gone.
   */
  send(type: string, data: unknown, id?: number | string): Promise<boolean>;
  /** Ends the response. Idempotent. */
  end(): void;
}

/** `tail` streams never end by themselves, so they are ended when the server shuts down. */
export type SseKind = 'turn' | 'tail';

/** Every open stream of one server, so that shutdown can end the ones that would never end. */
export class SseHub {
  readonly #open = new Map<SseStream, SseKind>();
  readonly #keepAliveMs: number;

  constructor(keepAliveSec: number) {
    this.#keepAliveMs = keepAliveSec * 1000;
  }

  get size(): number {
    return this.#open.size;
  }

  /** Hijacks `reply` and sends the SSE headers at once, so the client knows the stream is live. */
  open(reply: FastifyReply, kind: SseKind): SseStream {
    const stream = openSse(reply, this.#keepAliveMs, () => this.#open.delete(stream));
    this.#open.set(stream, kind);
    return stream;
  }

  /** Ends the open streams of one kind (or all). */
  endAll(kind?: SseKind): void {
    for (const [stream, k] of [...this.#open]) if (kind === undefined || k === kind) stream.end();
  }
}

/** The field values are ours, but a line break in one would forge fields: strip it anyway. */
const oneLine = (s: string): string => s.replace(/[\r\n]/g, '');

/** `id: 3\nevent: text.delta\ndata: {…}\n\n` */
export function sseFrame(type: string, data: unknown, id?: number | string): string {
  const idLine = id === undefined ? '' : `id: ${oneLine(String(id))}\n`;
  // JSON.stringify escapes CR and LF inside strings, so the data is always one line.
  return `${idLine}event: ${oneLine(type)}\ndata: ${JSON.stringify(data) ?? 'null'}\n\n`;
}

export const KEEP_ALIVE_FRAME = ': keep-alive\n\n';

function openSse(reply: FastifyReply, keepAliveMs: number, onEnd: () => void): SseStream {
  reply.hijack();
  const res = reply.raw;
  const controller = new AbortController();
  let closed = false;

  const finish = (): void => {
    if (closed) return;
    closed = true;
    clearInterval(keepAlive);
    controller.abort();
    onEnd();
  };

  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  // A client that disconnects ends only its stream; whatever feeds it (a turn) goes on.
  res.on('close', finish);
  res.on('error', finish);

  const write = async (chunk: string): Promise<boolean> => {
    if (closed || res.writableEnded) return false;
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
    return !closed;
  };

  // Proxies and load balancers drop connections that look idle; a comment line keeps them open.
  const keepAlive = setInterval(() => void write(KEEP_ALIVE_FRAME), keepAliveMs);
  keepAlive.unref();

  return {
    signal: controller.signal,
    get closed() {
      return closed;
    },
    send: (type, data, id) => write(sseFrame(type, data, id)),
    end() {
      if (!res.writableEnded) res.end();
      finish();
    },
  };
}
