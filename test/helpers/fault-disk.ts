import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SqliteStore } from '../../src/store/sqlite/index.js';

/**
 * Real disk faults for store tests: a small tmpfs of the test's own that fills up. Mounting needs
 * root with mount rights (CI has them); without, tests fall back to SQLite's own limits and say so.
 */

export const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: 'pipe' });

/** Why real mounts cannot be used here (or the tools named are missing), or null when they can. */
export function mountRefusal(tools: string[] = []): string | null {
  // TETHER_TEST_NO_MOUNTS=1 runs the fallback even where mounting works (to test the fallback).
  if (process.env.TETHER_TEST_NO_MOUNTS) return 'TETHER_TEST_NO_MOUNTS is set';
  const dir = mkdtempSync(join(tmpdir(), 'tether-probe-'));
  try {
    sh('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
    sh('umount', [dir]);
    for (const tool of tools) sh(tool, ['-V']);
    return null;
  } catch (err) {
    return (err as Error).message.split('\n')[0]!;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A small tmpfs holding the database, filled with a file until the disk is full. */
export class FullDisk {
  readonly dir = mkdtempSync(join(tmpdir(), 'tether-full-'));
  readonly #filler = join(this.dir, 'filler');
  readonly #real: boolean;

  /** `real`: mount a tmpfs; otherwise the disk is "full" through SQLite's `max_page_count`. */
  constructor(real: boolean, size = '4m') {
    this.#real = real;
    if (real) sh('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', this.dir]);
  }

  fill(store: SqliteStore): void {
    if (!this.#real) {
      store.connection.pragma(`max_page_count = ${store.connection.pragma('page_count', { simple: true }) as number}`);
      return;
    }
    const fd = openSync(this.#filler, 'w');
    const block = Buffer.alloc(64 * 1024);
    try {
      for (;;) writeSync(fd, block);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
    } finally {
      closeSync(fd);
    }
  }

  free(store: SqliteStore): void {
    if (this.#real) unlinkSync(this.#filler);
    else store.connection.pragma('max_page_count = 1073741823');
  }

  dispose(): void {
    if (this.#real) sh('umount', ['-l', this.dir]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
