import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where Codex keeps its state for Tether: one CODEX_HOME per tenant under Tether's data
 * directory, never the user's ~/.codex, so tenants share no threads, history or credentials,
 * and Tether's threads do not crowd a person's own Codex.
 */
export interface CodexHomes {
  /** The directory every tenant's CODEX_HOME is made in. */
  root: string;
  /**
   * The operator's `config.toml` (TETHER_CODEX_CONFIG): model, model providers and every other
   * Codex setting, copied into each tenant's home. Tether's own settings are laid over it per
   * process (`-c`) and per thread, never written into it.
   */
  baseConfig: string | null;
}

/** The tenant's CODEX_HOME, made (and its config.toml brought up to date) if need be. */
export function codexHomeFor(homes: CodexHomes, tenant: string): string {
  const home = join(homes.root, tenant);
  prepareHome(home, homes.baseConfig);
  return home;
}

/** Makes a CODEX_HOME with the operator's config.toml (kept up to date with it), if one is given. */
export function prepareHome(home: string, baseConfig: string | null): void {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  if (!baseConfig) return;
  const wanted = readFileSync(baseConfig, 'utf8');
  const path = join(home, 'config.toml');
  if (!existsSync(path) || readFileSync(path, 'utf8') !== wanted) writeFileSync(path, wanted, { mode: 0o600 });
}

/**
 * The `-c` overrides every app-server process gets from the environment: Codex 0.169 ignores
 * OPENAI_BASE_URL in its environment and takes the base URL as a setting instead.
 */
export function environmentOverrides(env: NodeJS.ProcessEnv): string[] {
  const overrides: string[] = [];
  // A JSON string is a valid TOML basic string.
  if (env.OPENAI_BASE_URL) overrides.push(`openai_base_url=${JSON.stringify(env.OPENAI_BASE_URL)}`);
  return overrides;
}
