import type { AddressInfo } from 'node:net';
import { isIPv6 } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createLogger } from '../lib/logger.js';
import type { Tether } from '../broker/api.js';
import { createTether } from '../broker/create-tether.js';
import type { TetherConfig } from '../config.js';
import { ErrorCode, TetherError } from '../errors.js';
import { REDACT_PATHS, buildServer } from './app.js';
import { assertBindingAllowed, loadTokens } from './auth.js';
import { metricsAccess } from './metrics-auth.js';

export interface ServeOptions {
  config: TetherConfig;
  /** Environment of the broker and its agent processes. */
  env: NodeJS.ProcessEnv;
  /** Default: pino on stderr at `config.logLevel`. */
  logger?: Logger;
  /** Shut down on SIGTERM / SIGINT (a second one exits at once). Default false. */
  signals?: boolean;
  /** The directory the server started in: the default allowed root. Default: process.cwd(). */
  cwd?: string;
}

export interface RunningServer {
  /** `http://host:port`, with the port actually bound (config port 0 picks a free one). */
  readonly url: string;
  /** Whether requests need a bearer token. */
  readonly auth: boolean;
  /** Resolves once the server has shut down, whoever started the shutdown. */
  readonly closed: Promise<void>;
  /**
   * Drains: new requests get 503 AGENT_UNAVAILABLE with Retry-After (the port stays open until
   * the turns are over, /readyz says not ready), running turns get `graceMs` (default
   * `config.shutdownGraceSec`) to finish, interrupts the rest (journaled `interrupted`), closes
   * the store. Idempotent: a second call returns the first one's promise.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

/** After the turns have ended, how long streams and waiting requests get to write their last bytes. */
const DRAIN_MS = 1_000;

const exitCodeOfSignal = (signal: NodeJS.Signals): number => (signal === 'SIGINT' ? 130 : 143);

/**
 * Runs the daemon: checks the binding rule (before anything is opened), opens the broker,
 * builds the app and listens on `config.host:config.port`. Logs through the logger only.
 */
export async function serve(options: ServeOptions): Promise<RunningServer> {
  const { config, env } = options;
  const log = options.logger ?? createLogger({ level: config.logLevel, format: config.logFormat, redact: REDACT_PATHS });

  const tokens = loadTokens(config);
  assertBindingAllowed(config.host, tokens);
  // A metrics token that is also an API token is a configuration error: refused before anything opens.
  metricsAccess(config, tokens);
  if (!tokens.enabled) log.warn({ host: config.host }, 'no TETHER_TOKENS: authentication is off, so the server listens on loopback only');

  const tether = await createTether({ ...config, env, logger: log });
  let app: FastifyInstance;
  try {
    app = await buildServer(tether, config, { logger: log, tokens, ...(options.cwd !== undefined ? { cwd: options.cwd } : {}) });
  } catch (err) {
    await tether.close({ graceMs: 0 }).catch(() => undefined);
    throw err;
  }
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await app.close().catch(() => undefined);
    await tether.close({ graceMs: 0 }).catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code;
    throw new TetherError(ErrorCode.INVALID_INPUT, `cannot listen on ${config.host}:${config.port}: ${code === 'EADDRINUSE' ? 'the port is in use' : (err as Error).message}`, { cause: err });
  }

  // The teams file takes effect as it is edited, and at once on SIGHUP; a bad edit keeps the last good teams.
  const stopTeams = followTeams(tether, log);

  const port = (app.server.address() as AddressInfo).port;
  const urlHost = isIPv6(config.host) ? `[${config.host}]` : config.host;
  const url = `http://${urlHost}:${port}`;
  log.info({ url, auth: tokens.enabled, tenants: tokens.size }, 'tether listening');

  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });
  let shutdown: Promise<void> | null = null;
  const removeSignals = options.signals ? onSignals(log, () => shutdown !== null, () => void close()) : () => undefined;

  function close(closeOptions: { graceMs?: number } = {}): Promise<void> {
    shutdown ??= stop(app, tether, log, closeOptions.graceMs ?? config.shutdownGraceSec * 1000).finally(() => {
      removeSignals();
      stopTeams();
      resolveClosed();
    });
    return shutdown;
  }

  return { url, auth: tokens.enabled, closed, close };
}

async function stop(app: FastifyInstance, tether: Tether, log: Logger, graceMs: number): Promise<void> {
  log.info({ graceMs }, 'shutting down: new requests get 503; running turns get the grace period');
  // Still listening while the turns drain: a new request gets the contract's 503 with Retry-After
  // (a refused connection would tell a client nothing), and /readyz says not ready.
  app.drain();
  try {
    await tether.close({ graceMs });
  } finally {
    // Turns are over: stop listening, let streams and JSON waiters write their last event, reaping
    // connections as they fall idle (node only reaps the ones idle when close began), then cut
    // what is left.
    const appClosed = app.close().catch((err: unknown) => log.warn({ err }, 'closing the HTTP server failed'));
    let timer: NodeJS.Timeout | undefined;
    const reaper = setInterval(() => app.server.closeIdleConnections(), 25);
    await Promise.race([appClosed, new Promise((resolve) => (timer = setTimeout(resolve, DRAIN_MS)))]);
    clearTimeout(timer);
    clearInterval(reaper);
    app.server.closeAllConnections();
    await appClosed;
    log.info('stopped');
  }
}

/** Watches the teams file and reloads it on SIGHUP; returns the stop. */
function followTeams(tether: Tether, log: Logger): () => void {
  const teams = tether.teams;
  if (!teams) return () => undefined;
  teams.watch();
  const onHangup = (): void => {
    log.info('SIGHUP: reloading the teams file');
    teams.reload();
  };
  process.on('SIGHUP', onHangup);
  return () => void process.off('SIGHUP', onHangup);
}

/** First SIGTERM/SIGINT: graceful shutdown. Second: exit now. Returns the unsubscribe. */
function onSignals(log: Logger, stopping: () => boolean, begin: () => void): () => void {
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping()) {
      log.warn({ signal }, 'second signal: exiting without waiting for running turns');
      process.exit(exitCodeOfSignal(signal));
    }
    log.info({ signal }, 'signal received');
    begin();
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}
