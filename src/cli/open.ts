import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config.js';
import { createTether } from '../broker/create-tether.js';
import type { Tether } from '../broker/api.js';
import { connectTether } from '../client/http-tether.js';
import { baseUrlOf } from '../client/http.js';
import { validateTenant } from '../domain/keys.js';
import { ErrorCode, TetherError, invalidInput } from '../errors.js';
import type { CliIO } from './output.js';

/** Options every command accepts (declared on the root program). */
export interface GlobalOptions {
  db?: string;
  server?: string;
  token?: string;
  tenant?: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export function globalsOf(cmd: Command): GlobalOptions {
  const all: Record<string, unknown> = cmd.optsWithGlobals();
  return { db: str(all.db), server: str(all.server), token: str(all.token), tenant: str(all.tenant) };
}

/** The daemon the CLI talks to (`--server`, else `TETHER_URL`); undefined in embedded mode. */
export function serverOf(g: GlobalOptions, io: CliIO): string | undefined {
  return g.server ?? str(io.env.TETHER_URL);
}

/**
 * Refuses contradictory global options and checks what can be checked before anything is opened,
 * so that bad global options never create a database file nor reach a daemon. `embedded`: the
 * command always opens its own store (`demo`), so the client-mode options do not apply to it.
 */
export function checkGlobals(g: GlobalOptions, io: CliIO, options: { embedded?: boolean } = {}): void {
  const server = options.embedded ? undefined : serverOf(g, io);
  if (server !== undefined) {
    if (g.db !== undefined) {
      throw invalidInput(g.server !== undefined ? '--db and --server cannot be combined' : '--db and TETHER_URL cannot be combined; unset TETHER_URL to use a local database');
    }
    // The daemon takes the tenant from the token; a flag it would ignore must not look obeyed.
    if (g.tenant !== undefined) throw invalidInput('--tenant cannot be combined with --server: the daemon takes the tenant from the token (--token or TETHER_TOKEN)');
    baseUrlOf(server);
    return;
  }
  if (g.token !== undefined && !options.embedded) throw invalidInput('--token needs --server (or TETHER_URL): the embedded store has no tokens');
  if (g.tenant !== undefined) validateTenant(g.tenant);
}

export interface OpenOverrides {
  /** Always open the embedded store, whatever --server or TETHER_URL say (`demo`). */
  embedded?: boolean;
  /** Database used when --db is not given (the demo keeps its own); TETHER_DB otherwise. */
  defaultDb?: string;
  /** Environment of the broker and the agent; the CLI's environment by default. */
  env?: NodeJS.ProcessEnv;
  /**
   * The command only reads (`ls`, `show`, `stats`, `turns`, `export`): embedded, it opens an
   * existing database and never creates one, so a mistyped --db is an error, not an empty list.
   */
  readOnly?: string;
}

/**
 * Runs `fn` against a Tether and always closes it, so the store is released and no janitor
 * timer, warm agent or open stream keeps the process alive after the command is done. The
 * Tether is the daemon's (client mode: `--server` or `TETHER_URL`, with `--token` or
 * `TETHER_TOKEN`) or an embedded one on the local store.
 */
export async function withTether<T>(cmd: Command, io: CliIO, fn: (tether: Tether) => Promise<T>, overrides: OpenOverrides = {}): Promise<T> {
  const g = globalsOf(cmd);
  checkGlobals(g, io, overrides.embedded ? { embedded: true } : {});
  const server = overrides.embedded ? undefined : serverOf(g, io);
  const token = g.token ?? str(io.env.TETHER_TOKEN);
  const tether = server !== undefined ? connectTether({ url: server, ...(token !== undefined ? { token } : {}) }) : await openEmbedded(g, io, overrides);
  let result: T;
  try {
    result = await fn(tether);
  } catch (err) {
    // The command's own error says more than a failed close would.
    await tether.close().catch(() => undefined);
    throw err;
  }
  await tether.close();
  return result;
}

function openEmbedded(g: GlobalOptions, io: CliIO, overrides: OpenOverrides): Promise<Tether> {
  const db = g.db ?? overrides.defaultDb;
  if (overrides.readOnly !== undefined) assertDatabaseExists(overrides.readOnly, g, db, overrides.env ?? io.env);
  return createTether({
    ...(db !== undefined ? { db } : {}),
    // --tenant becomes the configured default tenant, so every call below is scoped by it.
    ...(g.tenant !== undefined ? { tenant: g.tenant } : {}),
    // The broker logs to stderr; a command's own output should not drown in info lines.
    ...(io.env.TETHER_LOG_LEVEL ? {} : { logLevel: 'warn' as const }),
    // A one-shot command exits after its turn: a parked spare would be started only to be killed.
    ...(io.env.TETHER_SPARES ? {} : { spares: 0 }),
    env: overrides.env ?? io.env,
  });
}

/** NOT_FOUND, naming the file and how to create it, when a read-only command's SQLite file is missing. */
function assertDatabaseExists(command: string, g: GlobalOptions, db: string | undefined, env: NodeJS.ProcessEnv): void {
  const config = loadConfig(db !== undefined ? { db } : {}, env);
  // PostgreSQL and in-memory stores have no file to create by mistake.
  if (config.databaseUrl !== undefined || !config.persistence || config.db === ':memory:') return;
  const file = path.resolve(config.db);
  if (existsSync(file)) return;
  const from = g.db !== undefined ? '--db' : str(env.TETHER_DB) !== undefined ? 'TETHER_DB' : str(env.DATABASE_PATH) !== undefined ? 'DATABASE_PATH' : 'the default';
  throw new TetherError(
    ErrorCode.NOT_FOUND,
    `no Tether database at ${file} (${from}): ${command} reads an existing one and creates none. ` +
      `Check the path, or create the database by sending a first message: tether --db ${shellWord(config.db)} send <key> <prompt>`,
  );
}

const shellWord = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
