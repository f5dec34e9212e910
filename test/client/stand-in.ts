import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the stand-in received, body parsed when it was JSON. */
export interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

export type Handler = (req: Seen, res: ServerResponse) => void | Promise<void>;

/**
 * A scripted HTTP server standing in for the daemon, for the cases a real daemon cannot be made
 * to produce on demand (a stream cut at an exact event, a reconnect that replays, a proxy's
 * HTML error page). Each test sets `handler`; every request is recorded in `seen`.
 */
export interface StandIn {
  url: string;
  seen: Seen[];
  handler: Handler;
  close(): Promise<void>;
}

export async function startStandIn(): Promise<StandIn> {
  const state: StandIn = {
    url: '',
    seen: [],
    handler: (_req, res) => json(res, 404, { error: { code: 'NOT_FOUND', message: 'no handler' } }),
    close: async () => undefined,
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        // Keep the raw text.
      }
      const seen: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      state.seen.push(seen);
      void Promise.resolve(state.handler(seen, res)).catch((err: unknown) => {
        res.destroy(err instanceof Error ? err : new Error(String(err)));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

/** Starts an SSE response; `send` writes one frame as the daemon does. */
export function sse(res: ServerResponse): { send(type: string, data: unknown, id?: number): void; comment(text: string): void } {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.flushHeaders();
  return {
    send(type, data, id) {
      res.write(`${id === undefined ? '' : `id: ${id}\n`}event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    comment(text) {
      res.write(`: ${text}\n\n`);
    },
  };
}

/** Cuts the connection mid-response, once what was written has left (destroy alone would drop it). */
export function cut(res: ServerResponse): void {
  setTimeout(() => res.destroy(), 20);
}
