import { resolve } from 'node:path';
import { isInside, resolveAllowedRoots } from '../lib/paths.js';
import type { TetherConfig } from '../config.js';
import { resolveCwd } from '../broker/send-options.js';
import { ErrorCode, TetherError, invalidInput } from '../errors.js';
import type { SessionOptionsBody } from './schemas.js';

/**
 * What an HTTP client may ask of this machine, beyond what the library checks: a working
 * directory inside the operator's allowed roots, no `bypassPermissions` unless allowed, and a
 * prompt within the size limit. Library callers are trusted; network callers are not.
 */
export interface RequestLimits {
  /** Real paths of the allowed roots. */
  readonly roots: readonly string[];
  /**
   * Checks a message's prompt and options; returns the options with `cwd` replaced by its real
   * path (so the broker gets exactly the directory that was checked). Throws FORBIDDEN or INVALID_INPUT.
   */
  check(prompt: string, options: SessionOptionsBody | undefined): SessionOptionsBody;
  /** The settings half of {@link check}, for routes that set them without a prompt (`PATCH`, import). */
  checkSettings(options: SessionOptionsBody | undefined): SessionOptionsBody;
}

/**
 * Builds the limits from the config. `baseDir` is where the server started: the default root
 * and the base of relative paths. A root that does not exist is a configuration error.
 */
export function createLimits(config: Pick<TetherConfig, 'allowedRoots' | 'allowBypassPermissions' | 'maxPromptChars'>, baseDir: string): RequestLimits {
  const { lexical: lexicalRoots, real: roots } = resolveAllowedRoots(config.allowedRoots, baseDir);

  function checkSettings(options: SessionOptionsBody | undefined): SessionOptionsBody {
    if (options?.permissionMode === 'bypassPermissions' && !config.allowBypassPermissions) {
      throw new TetherError(ErrorCode.FORBIDDEN, 'permissionMode bypassPermissions is not allowed on this server (TETHER_ALLOW_BYPASS_PERMISSIONS)');
    }
    if (options?.cwd === undefined) return options ?? {};
    // Symlinks and `..` are resolved first: the check is on where the agent would really run.
    const outside = new TetherError(ErrorCode.FORBIDDEN, `cwd ${options.cwd} is outside the directories this server allows (TETHER_ALLOWED_ROOTS)`);
    const absolute = resolve(baseDir, options.cwd);
    let real: string;
    try {
      real = resolveCwd(absolute);
    } catch (err) {
      // Outside the roots, "does not exist" and "forbidden" must look alike: no probing the disk.
      if (![...roots, ...lexicalRoots].some((root) => isInside(root, absolute))) throw outside;
      throw err;
    }
    if (!roots.some((root) => isInside(root, real))) throw outside;
    return { ...options, cwd: real };
  }

  return {
    roots,
    check(prompt, options) {
      if (prompt.length > config.maxPromptChars) {
        throw invalidInput(`prompt is ${prompt.length} characters long; the limit is ${config.maxPromptChars}`);
      }
      return checkSettings(options);
    },
    checkSettings,
  };
}
