import { lstatSync, statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from 'pino';
import { systemClock, type Clock, type Timer } from '../domain/clock.js';
import { invalidInput, toTetherError, type TetherError } from '../errors.js';
import { loadTeamsFile, type Team, type TeamsConfig } from './config.js';

/** An editor's save is several events (truncate, write, rename): one reload after they settle. */
const DEBOUNCE_MS = 100;

export interface TeamsRegistryOptions {
  /** The teams file (TETHER_TEAMS); a relative path is taken from the process's directory. */
  file: string;
  /** Real paths a local team's project must lie in: `resolveAllowedRoots(…).real` (src/lib/paths.ts). */
  roots: readonly string[];
  /** Problems of a reload are warnings here (component `teams`). */
  logger: Logger;
  /** Times the debounce of {@link TeamsRegistry.watch}; `systemClock` by default. */
  clock?: Clock;
}

export type ReloadResult = { ok: true; teams: number } | { ok: false; error: TetherError };

/**
 * The live teams config of a running process: loaded once, strictly, at start; then reloaded
 * when the file changes, leniently: a bad edit keeps the last good teams (and is logged), so a
 * running daemon never loses its teams to a typo.
 */
export class TeamsRegistry {
  /** The teams file, absolute. */
  readonly file: string;
  readonly #roots: readonly string[];
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #listeners = new Set<(config: TeamsConfig) => void>();
  #config: TeamsConfig;
  #watcher: FSWatcher | null = null;
  #pending: Timer | null = null;

  private constructor(file: string, config: TeamsConfig, options: TeamsRegistryOptions) {
    this.file = file;
    this.#config = config;
    this.#roots = options.roots;
    this.#log = options.logger.child({ component: 'teams' });
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Loads the file. Throws INVALID_INPUT when it is missing (the operator named a file that is not
   * there: a typo in TETHER_TEAMS must not start a daemon without teams) or has any problem (all
   * of them listed).
   */
  static open(options: TeamsRegistryOptions): TeamsRegistry {
    const file = resolve(options.file);
    try {
      statSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw invalidInput(`the teams file ${file} (TETHER_TEAMS) does not exist; create it with \`tether teams add\`, or unset TETHER_TEAMS`);
      }
      // Anything else (a permission) is worded by the loader, which meets it too.
    }
    return new TeamsRegistry(file, loadTeamsFile(file, options.roots), options);
  }

  /** The teams in use: the last good load. */
  get current(): TeamsConfig {
    return this.#config;
  }

  /** The team of that name, if the teams in use have one. */
  team(name: string): Team | undefined {
    return this.#config.teams.get(name);
  }

  /** The names of the teams in use, in the file's order. */
  names(): string[] {
    return [...this.#config.teams.keys()];
  }

  /**
   * Reads the file again. A good file becomes the teams in use (listeners hear of it when it
   * differs); a bad or missing one changes nothing, is logged as a warning with every problem,
   * and is returned as the error.
   */
  reload(): ReloadResult {
    let next: TeamsConfig;
    try {
      next = loadTeamsFile(this.file, this.#roots);
    } catch (err) {
      const error = toTetherError(err);
      const problems = Array.isArray(error.details?.problems) ? error.details.problems : [error.message];
      this.#log.warn({ file: this.file, problems }, 'the teams file was not reloaded; the last good teams stay in use');
      return { ok: false, error };
    }
    const changed = fingerprint(next) !== fingerprint(this.#config);
    this.#config = next;
    if (changed) {
      this.#log.info({ file: this.file, teams: next.teams.size }, 'the teams file was reloaded');
      this.#notify(next);
    }
    return { ok: true, teams: next.teams.size };
  }

  /**
   * Reloads whenever the file changes, until {@link close}. Idempotent. The watch never keeps the
   * process alive by itself.
   */
  watch(): void {
    if (this.#watcher) return;
    const name = basename(this.file);
    // A symlinked file (a Kubernetes ConfigMap) changes by a link beside it being swapped, an
    // event under another name: then every event of the directory may be the change.
    const linked = isSymlink(this.file);
    // The directory, not the file: editors and atomic writes replace the file by a rename, after
    // which a watch on the file itself would follow the old, deleted inode and hear nothing more.
    const watcher = watch(dirname(this.file), { persistent: false }, (_event, changed) => {
      if (linked || changed === null || changed === name) this.#schedule();
    });
    watcher.on('error', (err) => this.#log.warn({ err, file: this.file }, 'watching the teams file failed; edits take effect after a restart'));
    watcher.unref();
    this.#watcher = watcher;
  }

  /** Stops watching (a reload already scheduled is dropped). Idempotent. */
  close(): void {
    this.#pending?.cancel();
    this.#pending = null;
    this.#watcher?.close();
    this.#watcher = null;
  }

  /** Calls `listener` with the new teams after each reload that changed them; returns the unsubscribe. */
  onChange(listener: (config: TeamsConfig) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  #schedule(): void {
    this.#pending?.cancel();
    this.#pending = this.#clock.timeout(
      DEBOUNCE_MS,
      () => {
        this.#pending = null;
        this.reload();
      },
      { unref: true },
    );
  }

  #notify(config: TeamsConfig): void {
    for (const listener of this.#listeners) {
      try {
        listener(config);
      } catch (err) {
        // One failing listener must not keep the others (or the watch) from the new teams.
        this.#log.error({ err }, 'a listener of the teams file failed');
      }
    }
  }
}

/** Equal for equal teams (settings, order): a save without a change notifies nobody. */
function fingerprint(config: TeamsConfig): string {
  return JSON.stringify([...config.teams]);
}

function isSymlink(file: string): boolean {
  try {
    return lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}
