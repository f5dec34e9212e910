import pg from 'pg';

/** How long a lost LISTEN connection waits before it connects again. */
const LISTEN_RETRY_MS = 1000;

/**
 * Wake-up hints from NOTIFY, on a connection of its own (outside the pool, which would hand it
 * to queries). Connected while anyone listens. A lost connection is opened again, and listeners
 * are called once then, since notifications may have passed unheard meanwhile.
 */
export class NotifyListener {
  readonly #config: pg.ClientConfig;
  readonly #channel: string;
  /** Waits until the store is ready (its schema known), so `accept` can judge payloads. */
  readonly #ready: () => Promise<void>;
  readonly #accept: (payload: string) => boolean;
  readonly #listeners = new Set<() => void>();
  #client: pg.Client | null = null;
  #retry: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: { config: pg.ClientConfig; channel: string; ready: () => Promise<void>; accept: (payload: string) => boolean }) {
    this.#config = options.config;
    this.#channel = options.channel;
    this.#ready = options.ready;
    this.#accept = options.accept;
  }

  add(listener: () => void): () => void {
    this.#listeners.add(listener);
    void this.#connect(false);
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#disconnect();
    };
  }

  close(): void {
    this.#closed = true;
    this.#listeners.clear();
    this.#disconnect();
  }

  async #connect(reconnected: boolean): Promise<void> {
    if (this.#client || this.#retry || this.#closed || this.#listeners.size === 0) return;
    const client = new pg.Client(this.#config);
    this.#client = client;
    const lost = (): void => {
      if (this.#client !== client) return;
      this.#client = null;
      client.end().catch(() => undefined);
      if (this.#closed || this.#listeners.size === 0) return;
      this.#retry = setTimeout(() => {
        this.#retry = null;
        void this.#connect(true);
      }, LISTEN_RETRY_MS);
      this.#retry.unref();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (msg) => {
      if (this.#accept(msg.payload ?? '')) this.#wake();
    });
    try {
      await this.#ready();
      await client.connect();
      await client.query(`LISTEN ${this.#channel}`);
      if (reconnected) this.#wake();
    } catch {
      lost();
    }
  }

  #disconnect(): void {
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = null;
    const client = this.#client;
    this.#client = null;
    client?.end().catch(() => undefined);
  }

  #wake(): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener();
      } catch {
        // A hint listener that throws must not stop the others, nor the LISTEN connection.
      }
    }
  }
}
