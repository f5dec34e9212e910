import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listRollouts, type RolloutMirror } from './rollouts.js';

/**
 * Where Codex keeps its state for Tether: under Tether's data directory, never the user's
 * ~/.codex, a directory per tenant (tenants share no threads, history or credentials), and in
 * it one CODEX_HOME per app-server process.
 *
 * One home per process, because Codex lets a single process write a thread for as long as that
 * process lives ("already has an active writer", even after the thread is unsubscribed or
 * archived): a thread that moves to another process (after a hibernation, a failed turn, a turn
 * run by another Tether on this machine) is written back from Tether's store into that process's
 * own home instead. A home goes with its process; one a crash left behind is swept, its rollouts
 * mirrored into the store first, by the next Tether to start a Codex process.
 */
export interface CodexHomes {
  /** The directory tenants' directories are made in. */
  root: string;
  /**
   * The operator's `config.toml` (TETHER_CODEX_CONFIG): model, model providers and every other
   * Codex setting, copied into each home. Tether's own settings are laid over it per process
   * (`-c`) and per thread, never written into it.
   */
  baseConfig: string | null;
}

/** The file naming the Tether process a home belongs to (its pid). */
const OWNER_FILE = 'tether.pid';
/** Process homes are named `p-…` in their tenant's directory. */
const HOME_PREFIX = 'p-';

/** A new CODEX_HOME for one app-server process of the tenant, with the operator's config.toml. */
export function newProcessHome(homes: CodexHomes, tenant: string): string {
  const tenantDir = join(homes.root, tenant);
  mkdirSync(tenantDir, { recursive: true, mode: 0o700 });
  const home = mkdtempSync(join(tenantDir, HOME_PREFIX));
  prepareHome(home, homes.baseConfig);
  writeFileSync(join(home, OWNER_FILE), String(process.pid));
  return home;
}

/** Makes a CODEX_HOME with the operator's config.toml, if one is given. */
export function prepareHome(home: string, baseConfig: string | null): void {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  if (baseConfig) writeFileSync(join(home, 'config.toml'), readFileSync(baseConfig, 'utf8'), { mode: 0o600 });
}

export function removeHome(home: string): void {
  rmSync(home, { recursive: true, force: true, maxRetries: 3 });
}

/** Every process home under `root`, of every tenant, with whether the Tether that made it still runs. */
export function processHomes(root: string): Array<{ home: string; orphaned: boolean }> {
  const found: Array<{ home: string; orphaned: boolean }> = [];
  for (const tenant of listDirs(root)) {
    for (const name of listDirs(join(root, tenant))) {
      if (!name.startsWith(HOME_PREFIX)) continue;
      const home = join(root, tenant, name);
      found.push({ home, orphaned: !ownerRuns(home) });
    }
  }
  return found;
}

function ownerRuns(home: string): boolean {
  const file = join(home, OWNER_FILE);
  if (!existsSync(file)) return false;
  const pid = Number(readFileSync(file, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function listDirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name);
  } catch {
    return [];
  }
}

/**
 * Mirrors into the store what the homes of a Tether that is gone hold (a turn its crash cut off
 * is in its rollout, not yet in the store), then removes them: their processes died with it.
 */
export async function sweepOrphanedHomes(root: string, rollouts: RolloutMirror): Promise<void> {
  for (const { home, orphaned } of processHomes(root)) {
    if (!orphaned) continue;
    for (const { threadId, path } of listRollouts(home)) await rollouts.reconcile(threadId, path).catch(() => undefined);
    rollouts.keep(home);
    removeHome(home);
  }
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
