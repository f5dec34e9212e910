import { InvalidArgumentError } from 'commander';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { parseLabel } from '../../domain/keys.js';
import type { Labels } from '../../domain/types.js';
import { invalidInput } from '../../errors.js';

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
  const labels: Labels = {};
  for (const pair of pairs) {
    const [name, value] = parseLabel(pair);
    if (name in labels && labels[name] !== value) throw invalidInput(`label "${name}" is given twice with different values`);
    labels[name] = value;
  }
  return labels;
}

/** Resolves a `--cwd` relative to where the CLI runs and checks it is a directory, before anything is written. */
export async function directoryOf(dir: string): Promise<string> {
  const abs = path.resolve(dir);
  const info = await stat(abs).catch(() => null);
  if (!info) throw invalidInput(`--cwd ${abs} does not exist`);
  if (!info.isDirectory()) throw invalidInput(`--cwd ${abs} is not a directory`);
  return abs;
}
