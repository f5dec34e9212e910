import { createHash } from 'node:crypto';
import { AppServer, type CodexLaunch } from './app-server.js';
import { newProcessHome, removeHome, type CodexHomes } from './home.js';

/** An app-server process lent to one thread: `release` once the thread is done with it. */
export interface HostLease {
  readonly server: AppServer;
  /** The process's own CODEX_HOME. */
  readonly home: string;
  /** Records that the thread is loaded in the process (it stays so for the process's life). */
  adopt(threadId: string): void;
  /** Resolves once the process has exited and its home is gone, when this was its last thread; else at once. */
  release(): Promise<void>;
}

interface Host {
  key: string;
  server: Promise<AppServer>;
  home: string;
  /** Threads holding a lease on it now. */
  users: number;
  /** Every thread it has loaded: Codex keeps them, and their writer lock, for the process's life. */
  loaded: Set<string>;
}

/**
 * The app-server processes of a backend, shared by threads. A thread joins a live process of
 * its tenant with the same environment that has served fewer than `perProcess` threads and has
 * never loaded this one (its copy there may be stale: the thread may have gone on elsewhere), or
 * starts one. A process serves at most `perProcess` threads over its life and ends with the last
 * of them, so threads it no longer serves cost memory only for a while; one that crashed is
 * never lent again.
 */
export class AppServerHosts {
  readonly #launch: CodexLaunch;
  readonly #homes: CodexHomes;
  readonly #perProcess: number;
  readonly #hosts: Host[] = [];

  /** What is to be kept of a home before it goes (rollouts the store does not mirror). */
  readonly #keep: (home: string) => Promise<void>;

  constructor(launch: CodexLaunch, homes: CodexHomes, perProcess: number, keep: (home: string) => Promise<void>) {
    this.#launch = launch;
    this.#homes = homes;
    this.#perProcess = Math.max(1, perProcess);
    this.#keep = keep;
  }

  /** A process for `threadId` (null: a new thread) of `tenant`, started with `env`. */
  async lease(tenant: string, env: NodeJS.ProcessEnv, overrides: string[], threadId: string | null): Promise<HostLease> {
    const key = fingerprint(tenant, env, overrides);
    let host = this.#hosts.find((h) => h.key === key && h.users < this.#perProcess && h.loaded.size < this.#perProcess && (threadId === null || !h.loaded.has(threadId)));
    if (!host) {
      const home = newProcessHome(this.#homes, tenant);
      const created: Host = { key, home, users: 0, loaded: new Set(), server: AppServer.start(this.#launch, { ...env, CODEX_HOME: home }, overrides) };
      host = created;
      this.#hosts.push(created);
      created.server.then(
        (server) => void server.watch.exited.then(() => this.#drop(created)),
        () => this.#drop(created),
      );
    }
    host.users++;
    // Counted at once: a second thread asking meanwhile must not find room that is taken.
    if (threadId !== null) host.loaded.add(threadId);
    const owner = host;
    let server: AppServer;
    try {
      server = await owner.server;
    } catch (err) {
      owner.users--;
      if (owner.users === 0) removeHome(owner.home);
      throw err;
    }
    let released = false;
    return {
      server,
      home: owner.home,
      adopt: (id) => owner.loaded.add(id),
      release: async () => {
        if (released) return;
        released = true;
        owner.users--;
        if (owner.users > 0) return;
        this.#drop(owner);
        await server.close();
        await this.#keep(owner.home).catch(() => undefined);
        removeHome(owner.home);
      },
    };
  }

  #drop(host: Host): void {
    const at = this.#hosts.indexOf(host);
    if (at >= 0) this.#hosts.splice(at, 1);
  }
}

/** Processes are shared only between threads of one tenant that would start them identically. */
function fingerprint(tenant: string, env: NodeJS.ProcessEnv, overrides: string[]): string {
  const entries = Object.entries(env).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256').update(JSON.stringify([tenant, entries, overrides])).digest('hex');
}
