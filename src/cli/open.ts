import type { Command } from 'commander';
import { createTether } from '../broker/tether.js';
import type { Tether } from '../broker/api.js';
import { validateTenant } from '../domain/keys.js';
import { invalidInput } from '../errors.js';
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

export const CLIENT_MODE_UNAVAILABLE = 'client mode (--server) is not available yet; run without --server to use the embedded store';

/**
 * Refuses what the embedded store cannot honour yet and checks the tenant before anything is
 * opened, so that bad global options never create a database file.
 */
export function checkGlobals(g: GlobalOptions, io: CliIO): void {
  if (g.server ?? str(io.env.TETHER_URL)) throw invalidInput(CLIENT_MODE_UNAVAILABLE);
  if (g.tenant !== undefined) validateTenant(g.tenant);
}

export interface OpenOverrides {
  /** Database used when --db is not given (the demo keeps its own); TETHER_DB otherwise. */
  defaultDb?: string;
  /** Environment of the broker and the agent; the CLI's environment by default. */
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs `fn` against an embedded Tether and always closes it, so the store is released and no
 * janitor timer or warm agent keeps the process alive after the command is done.
 */
export async function withTether<T>(cmd: Command, io: CliIO, fn: (tether: Tether) => Promise<T>, overrides: OpenOverrides = {}): Promise<T> {
  const g = globalsOf(cmd);
  checkGlobals(g, io);
  const db = g.db ?? overrides.defaultDb;
  const tether = await createTether({
    ...(db !== undefined ? { db } : {}),
    // --tenant becomes the configured default tenant, so every call below is scoped by it.
    ...(g.tenant !== undefined ? { tenant: g.tenant } : {}),
    // The broker logs to stderr; a command's own output should not drown in info lines.
    ...(io.env.TETHER_LOG_LEVEL ? {} : { logLevel: 'warn' as const }),
    env: overrides.env ?? io.env,
  });
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
