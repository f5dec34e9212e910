/**
 * The HTTP side every mock model API shares (the Anthropic Messages mock, the OpenAI Responses
 * mock): a server on a free loopback port, the request body read and decoded, an optional delay
 * before answering, timers that end with their response, hung requests, and a stop that leaves
 * no socket behind. Each API brings only its routes and wire format.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { MockReplyTiming, RecordedResponse } from './mock-types.js';
import { decodeBody, errorTypeFor, defaultErrorMessage, sleep, type Live } from './mock-wire.js';

/** One request as a mock's route sees it. */
export interface MockExchange {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  /** The response's timers and hung state; `sleep(ms, live)` waits no longer than the response lives. */
  live: Live;
  method: string;
  /** Without the query string and trailing slashes. */
  path: string;
  /** The body, decoded (gzip, deflate, br, zstd) as text. */
  text: string;
  /** The body parsed as JSON; undefined when there was none or it was not JSON. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export interface MockHttpOptions {
  port?: number;
  host?: string;
  /** Waits this long before every answer (after `onArrival`). */
  latencyMs?: number;
}

export interface MockHttp {
  readonly url: string;
  readonly port: number;
  /** Destroys the sockets of the requests left hanging (a `hang` fault). */
  endHung(): void;
  /** Closes the server and every open socket, hung ones included. */
  stop(): Promise<void>;
}

/**
 * Starts the server. `arrive` runs first (record the request) and returns a function to run once
 * the response is over; `answer` then writes the response. A route that throws answers 500
 * through `fail` (or cuts a response already under way).
 */
export async function startMockHttp(
  opts: MockHttpOptions,
  arrive: (x: MockExchange) => (() => void) | void,
  answer: (x: MockExchange) => Promise<void>,
  fail: (res: http.ServerResponse, err: unknown) => void,
): Promise<MockHttp> {
  const sockets = new Set<Socket>();
  const lives = new Set<Live>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void handle(req, res, Buffer.concat(chunks)).catch((err: unknown) => {
        if (!res.headersSent) fail(res, err);
        else res.destroy();
      });
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://mock');
    const text = decodeBody(raw, req.headers['content-encoding'] as string | undefined).toString('utf8');
    let body: unknown;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
    }
    const live: Live = { res, timers: new Set(), hung: false };
    const x: MockExchange = { req, res, live, method: req.method ?? 'GET', path: url.pathname.replace(/\/+$/, '') || '/', text, body };
    lives.add(live);
    const done = arrive(x);
    res.on('close', () => {
      done?.();
      for (const t of live.timers) clearTimeout(t);
      lives.delete(live);
    });
    await sleep(opts.latencyMs ?? 0, live);
    if (res.destroyed) return;
    await answer(x);
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
  return {
    url: `http://${urlHost}:${addr.port}`,
    port: addr.port,
    endHung() {
      for (const l of lives) if (l.hung) l.res.destroy();
    },
    async stop() {
      for (const l of lives) {
        for (const t of l.timers) clearTimeout(t);
        l.res.destroy();
      }
      lives.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        server.closeAllConnections?.();
      });
    },
  };
}

/** The scripted replies of a mock: a FIFO queue, then the default. */
export class ReplyQueue<Req, Reply> {
  readonly #queue: Reply[] = [];
  fallback: (req: Req) => Reply;

  constructor(fallback: (req: Req) => Reply) {
    this.fallback = fallback;
  }

  next(req: Req): Reply {
    return this.#queue.shift() ?? this.fallback(req);
  }

  enqueue(...replies: Reply[]): void {
    this.#queue.push(...replies);
  }

  get pending(): number {
    return this.#queue.length;
  }

  clear(): void {
    this.#queue.length = 0;
  }
}

/** What every mock gives its tests: where it listens, what it received, what it will answer. */
export function mockControls<Req, Reply>(server: MockHttp, requests: Req[], replies: ReplyQueue<Req, Reply>) {
  return {
    url: server.url,
    port: server.port,
    requests,
    enqueue: (...r: Reply[]): void => replies.enqueue(...r),
    pending: (): number => replies.pending,
    setDefault: (fn: (req: Req) => Reply): void => void (replies.fallback = fn),
    reset: (): void => {
      server.endHung();
      requests.length = 0;
      replies.clear();
    },
    stop: (): Promise<void> => server.stop(),
  };
}

/**
 * Waits out a reply's delay, then deals with a fault that replaces the answer: `hang` (never
 * answered, until reset or stop) or `status` (an error in the API's shape, through `sendError`).
 * True when the response is dealt with (or gone); the caller then writes nothing.
 */
export async function delayOrFault(
  x: Pick<MockExchange, 'res' | 'live'>,
  reply: MockReplyTiming,
  rec: { response?: RecordedResponse },
  sendError: (status: number, type: string, message: string, headers: Record<string, string>) => void,
): Promise<boolean> {
  await sleep(reply.delayMs ?? 0, x.live);
  if (x.res.destroyed) return true;
  const fault = reply.fault;
  if (fault?.kind === 'hang') {
    x.live.hung = true;
    rec.response = { fault: 'hang' };
    return true;
  }
  if (fault?.kind !== 'status') return false;
  rec.response = { status: fault.status, fault: 'status' };
  const headers: Record<string, string> = { ...fault.headers };
  if (fault.retryAfterSec !== undefined) headers['retry-after'] = String(fault.retryAfterSec);
  const type = fault.type ?? errorTypeFor(fault.status);
  sendError(fault.status, type, fault.message ?? defaultErrorMessage(type), headers);
  return true;
}

/** A JSON answer with its length. */
export function sendJson(res: http.ServerResponse, status: number, obj: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** Lets the partial frames already written reach the client, then cuts the connection mid-stream. */
export function destroyAfterFlush(res: http.ServerResponse): void {
  setTimeout(() => res.destroy(), 20);
}
