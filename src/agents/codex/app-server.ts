import { ProcessWatch, spawnAgent } from '../process.js';
import type { InitializeParams } from './protocol/InitializeParams.js';
import type { InitializeResponse } from './protocol/InitializeResponse.js';
import { RpcConnection } from './rpc.js';

/** How every `codex app-server` process of a backend is started. */
export interface CodexLaunch {
  /** The Codex binary. */
  readonly binary: string;
  /** Niceness added to each process (and so to the commands Codex runs); 0 leaves it as Tether's. */
  readonly nice: number;
  /** Tether's version, as the app-server's clientInfo names its client. */
  readonly version: string;
}

/** What one thread of an app-server process hears of it. */
export interface ThreadListener {
  notification(method: string, params: Record<string, unknown>): void;
  /** A request the app-server waits on (an approval); resolves with the response's result. */
  request(method: string, params: Record<string, unknown>): Promise<unknown>;
  /** The process ended: every request of the thread has failed already. */
  exited(reason: string): void;
}

/** How long the app-server may take to answer `initialize` (it loads its config and auth first). */
const INITIALIZE_TIMEOUT_MS = 60_000;

/**
 * One `codex app-server` process: JSON-RPC over its stdio, holding any number of threads (Codex
 * conversations). Notifications and the app-server's own requests carry a `threadId` and go to
 * that thread's listener; a request for a thread nobody listens to (an approval after its turn
 * was given up) is declined.
 */
export class AppServer {
  readonly watch: ProcessWatch;
  readonly #rpc: RpcConnection;
  readonly #threads = new Map<string, ThreadListener>();

  private constructor(watch: ProcessWatch, rpc: RpcConnection) {
    this.watch = watch;
    this.#rpc = rpc;
  }

  /**
   * Starts the process with `env` (its CODEX_HOME among it) and the `-c` overrides given, and
   * completes the handshake. A process that fails to start or to answer is ended before this throws.
   */
  static async start(launch: CodexLaunch, env: NodeJS.ProcessEnv, overrides: string[]): Promise<AppServer> {
    const watch = new ProcessWatch();
    const args = ['app-server', ...overrides.flatMap((o) => ['-c', o])];
    const child = spawnAgent(watch, { command: launch.binary, args, env }, launch.nice);
    let server: AppServer | null = null;
    const rpc = new RpcConnection(child.stdout!, child.stdin!, {
      notification: (method, params) => {
        if (server) server.#route(method, params)?.notification(method, params as Record<string, unknown>);
      },
      request: (method, params) => {
        const listener = server ? server.#route(method, params) : undefined;
        if (listener) return listener.request(method, params as Record<string, unknown>);
        return Promise.resolve(refusal(method));
      },
    });
    server = new AppServer(watch, rpc);
    void watch.exited.then(() => server.#exited());
    child.once('error', (err) => rpc.close(err));
    const params: InitializeParams = {
      clientInfo: { name: 'tether', title: 'Tether', version: launch.version },
      capabilities: { experimentalApi: false, requestAttestation: false },
    };
    const timer = setTimeout(() => rpc.close(new Error('codex app-server did not answer initialize in time')), INITIALIZE_TIMEOUT_MS);
    try {
      await rpc.request<InitializeResponse>('initialize', params);
      rpc.notify('initialized');
      return server;
    } catch (err) {
      await watch.kill();
      throw new Error(`codex app-server did not start: ${err instanceof Error ? err.message : String(err)}${server.#stderrTail()}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  get alive(): boolean {
    return this.watch.alive && !this.#rpc.closed;
  }

  get pid(): number | null {
    return this.watch.pid;
  }

  request<T>(method: string, params: unknown): Promise<T> {
    return this.#rpc.request<T>(method, params);
  }

  /** Routes the thread's notifications and requests to `listener`. */
  listen(threadId: string, listener: ThreadListener): void {
    this.#threads.set(threadId, listener);
  }

  /** Stops routing to the thread and lets the app-server unload it (best effort). */
  forget(threadId: string): void {
    if (!this.#threads.delete(threadId) || !this.alive) return;
    this.#rpc.request('thread/unsubscribe', { threadId }).catch(() => undefined);
  }

  /** Ends the process and what it started; resolves once it has exited. */
  async close(): Promise<void> {
    await this.watch.kill();
  }

  describeExit(): string {
    return `${this.watch.describeExit().replace('agent process', 'codex app-server')}${this.#stderrTail()}`;
  }

  #route(method: string, params: unknown): ThreadListener | undefined {
    const threadId = params && typeof params === 'object' ? (params as { threadId?: unknown }).threadId : undefined;
    if (typeof threadId === 'string') return this.#threads.get(threadId);
    // Account-wide news (rate limits) concerns every thread of the process.
    if (method === 'account/rateLimits/updated') for (const listener of this.#threads.values()) listener.notification(method, params as Record<string, unknown>);
    return undefined;
  }

  #exited(): void {
    const reason = this.describeExit();
    this.#rpc.close(new Error(reason));
    for (const listener of [...this.#threads.values()]) listener.exited(reason);
    this.#threads.clear();
  }

  #stderrTail(): string {
    const tail = this.watch.stderr.slice(-3).join(' | ');
    return tail ? ` (stderr: ${tail})` : '';
  }
}

/** The answer to an app-server request nobody is there to decide: approvals are declined. */
function refusal(method: string): unknown {
  if (method === 'item/commandExecution/requestApproval' || method === 'item/fileChange/requestApproval') return { decision: 'decline' };
  if (method === 'execCommandApproval' || method === 'applyPatchApproval') return { decision: 'denied' };
  throw new Error(`Tether does not handle ${method}`);
}
