import { InvalidArgumentError } from 'commander';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { isMetaName, parseLabel, splitMetaPair, validateLabels } from '../../domain/keys.js';
import type { Labels } from '../../domain/types.js';
import { invalidInput } from '../../errors.js';
import { serverOf, type GlobalOptions } from '../open.js';
import type { CliIO } from '../output.js';

/** Flag parsers shared by the commands; a bad value becomes a usage error (exit 2) in commander. */
export function intOption(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\s*-?\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}`);
    }
    return n;
  };
}

/** For repeatable flags (`--label a=1 --label b=2`). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `k=v` pairs to labels; a malformed pair or a repeated name is INVALID_INPUT. */
export function labelsOf(pairs: string[] | undefined): Labels | undefined {
  if (!pairs || pairs.length === 0) return undefined;
  const labels = new Map<string, string>();
  for (const pair of pairs) {
    const [name, value] = parseLabel(pair);
    // has(), not `name in {}`: a label may be called "constructor".
    if (labels.has(name) && labels.get(name) !== value) throw invalidInput(`label "${name}" is given twice with different values`);
    labels.set(name, value);
  }
  return Object.fromEntries(labels) as Labels;
}

/**
 * A `--cwd` resolved against where the CLI runs (`send`, `import`). Embedded, it is checked here to
 * be a directory, before anything is written; against a daemon the directory is on the daemon's
 * host, which checks it (and its allowed roots).
 */
export async function cwdOf(dir: string | undefined, g: GlobalOptions, io: CliIO): Promise<string | undefined> {
  if (dir === undefined) return undefined;
  const abs = path.resolve(dir);
  if (serverOf(g, io) !== undefined) return abs;
  const info = await stat(abs).catch(() => null);
  if (!info) throw invalidInput(`--cwd ${abs} does not exist`);
  if (!info.isDirectory()) throw invalidInput(`--cwd ${abs} is not a directory`);
  return abs;
}


/**
 * `k=v` pairs to metadata strings (`send --meta`, `update --meta`, `ls --meta`): a name of 1-64
 * characters, any value, no control characters — the rules of the daemon's `?meta=k=v` filter, so
 * a filter refused in one mode is refused, with the same words, in the other. Values stay strings.
 */
export function metaOf(pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs || pairs.length === 0) return undefined;
  // A Map, not `name in {}`: "constructor" or "__proto__" are names like any other.
  const meta = new Map<string, string>();
  for (const pair of pairs) {
    const split = splitMetaPair(pair);
    if (!split) throw invalidInput(`--meta ${JSON.stringify(pair)} must be name=value: a name of 1-64 characters, no control characters`);
    const [name, value] = split;
    if (meta.has(name) && meta.get(name) !== value) throw invalidInput(`--meta "${name}" is given twice with different values`);
    meta.set(name, value);
  }
  return Object.fromEntries(meta);
}

/** Names to remove (`--unlabel`, `--unmeta`), checked like the names they remove. */
export function namesOf(names: string[] | undefined, kind: 'label' | 'meta'): string[] {
  for (const name of names ?? []) {
    if (kind === 'label') validateLabels({ [name]: '' });
    else if (!isMetaName(name)) throw invalidInput(`--unmeta ${JSON.stringify(name)} must be a name of 1-64 characters, no control characters`);
  }
  return names ?? [];
}

/** An id another system gives a session (`--task-id`, `--mcp-session-id`): 1-256 characters, printable. */
export function linkOf(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value === '' || value.length > 256 || /\p{Cc}/u.test(value)) throw invalidInput(`${flag} must be 1-256 characters, no control characters`);
  return value;
}
