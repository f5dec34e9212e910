import { createHash } from 'node:crypto';
import { AppServer, type CodexLaunch } from './app-server.js';

/** An app-server process lent to one thread: `release` once the thread is done with it. */
export interface HostLease {
  readonly server: AppServer;
  /** Resolves once the process has exited, when this was its last thread; else at once. */
  release(): Promise<void>;
}

interface Host {
  key: string;
  server: Promise<AppServer>;
  /** Threads holding a lease on it. */
  users: number;
}

/**
 * The app-server processes of a backend, shared by threads: a thread joins a live process with
 * the same environment (its CODEX_HOME, its tenant's settings) and fewer than `perProcess`
 * threads, or starts one. A process ends with its last thread, so a hibernated session holds
 * nothing, and one that crashed is never lent again.
 */
export class AppServerHosts {
  readonly #launch: CodexLaunch;
  readonly #perProcess: number;
  readonly #hosts: Host[] = [];

  constructor(launch: CodexLaunch, perProcess: number) {
    this.#launch = launch;
    this.#perProcess = Math.max(1, perProcess);
  }

  /** Live processes (starting ones included). */
  get processes(): number {
    return this.#hosts.length;
  }

  async lease(env: NodeJS.ProcessEnv, overrides: string[]): Promise<HostLease> {
    const key = fingerprint(env, overrides);
    let host = this.#hosts.find((h) => h.key === key && h.users < this.#perProcess);
    if (!host) {
      const created: Host = { key, users: 0, server: AppServer.start(this.#launch, env, overrides) };
      host = created;
      this.#hosts.push(created);
      created.server.then(
        (server) => void server.watch.exited.then(() => this.#drop(created)),
        () => this.#drop(created),
      );
    }
    host.users++;
    const owner = host;
    let server: AppServer;
    try {
      server = await owner.server;
    } catch (err) {
      owner.users--;
      throw err;
    }
    let released = false;
    return {
      server,
      release: async () => {
        if (released) return;
        released = true;
        owner.users--;
        if (owner.users > 0) return;
        this.#drop(owner);
        await server.close();
      },
    };
  }

  #drop(host: Host): void {
    const at = this.#hosts.indexOf(host);
    if (at >= 0) this.#hosts.splice(at, 1);
  }
}

/** Processes are shared only between threads that would start them identically. */
function fingerprint(env: NodeJS.ProcessEnv, overrides: string[]): string {
  const entries = Object.entries(env).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256').update(JSON.stringify([entries, overrides])).digest('hex');
}
