import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BIN, BUILT } from '../helpers/cli-fixture.js';

export { BIN, BUILT };

/** One `tether serve` process: its own HOME (another machine, as far as Claude Code knows). */
export interface FleetNode {
  name: string;
  url: string;
  home: string;
  child: ChildProcess;
  /** Lines the node wrote to stderr (its pino log, at `warn`). */
  log: string[];
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface NodeSpec {
  name: string;
  dir: string;
  cwd: string;
  /** Environment of the node: store settings, the mock's agent variables. */
  env: NodeJS.ProcessEnv;
}

/** Starts a node and resolves once it prints where it listens. */
export async function startNode(spec: NodeSpec): Promise<FleetNode> {
  const home = join(spec.dir, `home-${spec.name}`);
  mkdirSync(home, { recursive: true });
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
    cwd: spec.cwd,
    env: { TETHER_LOG_LEVEL: 'warn', TETHER_SPARES: '0', TETHER_CWD: spec.cwd, TETHER_ALLOWED_ROOTS: spec.dir, ...spec.env, HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => log.push(line));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    // Generous: loading the CLI alone took ~13 s of wall time on two cores at a load of 28, and
    // the fleets start their nodes all at once.
    const timer = setTimeout(() => reject(new Error(`node ${spec.name} did not start: ${log.join('\n')}`)), 60_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /listening on (\S+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`node ${spec.name} exited with ${code}: ${log.join('\n')}`));
    });
  });
  return {
    name: spec.name,
    url,
    home,
    child,
    log,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/** POST a message and wait for the JSON answer (the turn.completed payload, or the error). */
export async function sendTurn(node: FleetNode, key: string, prompt: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${node.url}/v1/sessions/${encodeURIComponent(key)}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt }),
  });
  return { status: res.status, body: await res.json() };
}

/** Runs `tasks` with at most `limit` at once. */
export async function pool<T>(limit: number, tasks: Array<() => Promise<T>>): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, tasks.length) }, async () => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await tasks[i]!();
      }
    }),
  );
  return results;
}

/**
 * A TCP proxy a node reaches its database through. `blackhole()` holds every byte back, both
 * ways, while keeping the connections open — a network partition, or a database that hangs — so
 * the node's queries neither fail nor return; `restore()` delivers what waited, in order, as TCP
 * would after a partition heals.
 */
export interface BlackholeProxy {
  port: number;
  blackhole(): void;
  restore(): void;
  close(): Promise<void>;
}

export async function startBlackholeProxy(targetHost: string, targetPort: number): Promise<BlackholeProxy> {
  const { createServer, connect } = await import('node:net');
  let holed = false;
  const sockets = new Set<import('node:net').Socket>();
  /** Bytes held back while holed, per destination: delivered in order once restored, as TCP would. */
  const held = new Map<import('node:net').Socket, Buffer[]>();
  const forward = (to: import('node:net').Socket) => (chunk: Buffer) => {
    if (holed) held.set(to, [...(held.get(to) ?? []), chunk]);
    else to.write(chunk);
  };
  const server = createServer((client) => {
    const upstream = connect(targetPort, targetHost);
    sockets.add(client);
    sockets.add(upstream);
    client.on('data', forward(upstream));
    upstream.on('data', forward(client));
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as import('node:net').AddressInfo).port,
    blackhole: () => {
      holed = true;
    },
    restore: () => {
      holed = false;
      for (const [to, chunks] of held) for (const chunk of chunks) to.write(chunk);
      held.clear();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
