import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { invalidInput } from '../errors.js';

/** Whether `path` is `root` or below it (both real paths). */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** The allowed roots (TETHER_ALLOWED_ROOTS), each as given made absolute and as its real path. */
export interface AllowedRoots {
  /** Absolute, symlinks not resolved: what a path as typed is compared with. */
  readonly lexical: readonly string[];
  /** Real paths (symlinks resolved): what a resolved path must lie in. */
  readonly real: readonly string[];
}

/**
 * The directories of the `allowedRoots` setting (`:`-separated), relative ones against `baseDir`;
 * `baseDir` alone when the setting is unset. Every consumer (the server's cwd checks, the teams
 * file) reads the setting here, so they agree on what is allowed. A root that is not an existing
 * directory is a configuration error (INVALID_INPUT), not an empty allowance.
 */
export function resolveAllowedRoots(setting: string | undefined, baseDir: string): AllowedRoots {
  const given = setting ? setting.split(':').filter((r) => r.trim() !== '') : [baseDir];
  if (given.length === 0) throw invalidInput('TETHER_ALLOWED_ROOTS names no directory');
  const lexical = given.map((root) => resolve(baseDir, root));
  const real = given.map((root, i) => {
    const notDirectory = invalidInput(`allowed root ${root} (TETHER_ALLOWED_ROOTS) is not an existing directory`);
    let path: string;
    try {
      path = realpathSync(lexical[i]!);
    } catch {
      throw notDirectory;
    }
    if (!statSync(path).isDirectory()) throw notDirectory;
    return path;
  });
  return { lexical, real };
}
