import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/** An error response of the peer: JSON-RPC's code and message, and its data if any. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data: unknown = null,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

/** What the peer sends on its own: notifications, and requests it waits on (approvals). */
export interface RpcHandlers {
  notification(method: string, params: unknown): void;
  /** Resolves with the result to send back; a throw is sent as an error response. */
  request(method: string, params: unknown): Promise<unknown>;
}

interface Pending {
  method: string;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/** JSON-RPC error code of a method the client does not implement. */
const METHOD_NOT_FOUND = -32601;

/**
 * JSON-RPC over a pair of streams, one message per line, as Codex's app-server speaks it (its
 * messages leave out the `"jsonrpc": "2.0"` member). Requests from either side are matched to
 * their responses by id; once the connection is closed every pending request fails with the
 * reason given, and later ones fail at once.
 */
export class RpcConnection {
  readonly #out: Writable;
  readonly #handlers: RpcHandlers;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #closed: Error | null = null;

  constructor(input: Readable, output: Writable, handlers: RpcHandlers) {
    this.#out = output;
    this.#handlers = handlers;
    // A closed pipe (the process died) surfaces through close(); an EPIPE must not crash Tether.
    output.on('error', () => undefined);
    const lines = createInterface({ input, crlfDelay: Infinity });
    lines.on('line', (line) => this.#receive(line));
  }

  get closed(): boolean {
    return this.#closed !== null;
  }

  request<T>(method: string, params: unknown): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { method, resolve: resolve as (value: unknown) => void, reject });
      this.#send({ id, method, params });
    });
  }

  notify(method: string, params?: unknown): void {
    if (!this.#closed) this.#send(params === undefined ? { method } : { method, params });
  }

  /** Fails every pending request with `reason`; idempotent. */
  close(reason: Error): void {
    if (this.#closed) return;
    this.#closed = reason;
    for (const pending of this.#pending.values()) pending.reject(reason);
    this.#pending.clear();
  }

  #send(message: object): void {
    this.#out.write(`${JSON.stringify(message)}\n`);
  }

  #receive(line: string): void {
    if (!line.trim()) return;
    let message: { id?: number | string; method?: string; params?: unknown; result?: unknown; error?: { code: number; message: string; data?: unknown } };
    try {
      message = JSON.parse(line) as typeof message;
    } catch {
      // Not protocol: the app-server writes its logs to stderr, so this is a stray line.
      return;
    }
    if (message.method !== undefined && message.id !== undefined) {
      void this.#answer(message.id, message.method, message.params);
    } else if (message.method !== undefined) {
      this.#handlers.notification(message.method, message.params);
    } else if (typeof message.id === 'number') {
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      if (message.error) pending.reject(new RpcError(message.error.code, `${pending.method}: ${message.error.message}`, message.error.data ?? null));
      else pending.resolve(message.result);
    }
  }

  async #answer(id: number | string, method: string, params: unknown): Promise<void> {
    try {
      const result = await this.#handlers.request(method, params);
      if (!this.#closed) this.#send({ id, result });
    } catch (err) {
      const code = err instanceof RpcError ? err.code : METHOD_NOT_FOUND;
      if (!this.#closed) this.#send({ id, error: { code, message: err instanceof Error ? err.message : String(err) } });
    }
  }
}
