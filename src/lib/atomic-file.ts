import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ErrorCode, TetherError } from '../errors.js';

/**
 * Replaces `file` with `text` all at once: written to a temporary file in the same directory
 * (a rename is atomic only within one file system), flushed, then renamed over it. A reader or a
 * watcher sees the old file or the new one, never half of one; a failure leaves the old file and
 * no temporary one. `mode` is set exactly (not filtered by the umask).
 */
export function writeFileAtomic(file: string, text: string, mode: number): void {
  const dir = dirname(file);
  const temp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = openSync(temp, 'wx', mode);
    try {
      fchmodSync(fd, mode);
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
  syncDirectory(dir);
}

/** The rename is durable once the directory is flushed; not every platform can open one to flush. */
function syncDirectory(dir: string): void {
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch {
    return;
  }
  try {
    fsyncSync(fd);
  } catch {
    // Windows refuses to flush a directory; its renames are as durable as it makes them.
  } finally {
    closeSync(fd);
  }
}

const LOCK_STEP_MS = 20;
const LOCK_STEPS = 250;

/**
 * Runs `fn` holding `<file>.lock`, so read-modify-write edits of `file` by several processes (two
 * `tether teams add` at once) follow one another instead of one losing the other's change. A lock
 * whose process is gone (killed mid-edit) is taken over; a live holder is waited for ~5 s.
 */
export function withFileLock<T>(file: string, fn: () => T): T {
  const lock = `${file}.lock`;
  for (let step = 0; ; step++) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      try {
        writeSync(fd, String(process.pid));
      } finally {
        closeSync(fd);
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    // Two processes taking over the same stale lock at once could both hold it; that needs a
    // crash mid-edit and two edits within the same milliseconds after it, and costs one edit.
    if (holderGone(lock)) {
      rmSync(lock, { force: true });
      continue;
    }
    if (step >= LOCK_STEPS) {
      throw new TetherError(ErrorCode.INTERNAL, `${file} is being edited by another process (${lock} is held); if none is, remove ${lock}`);
    }
    sleepSync(LOCK_STEP_MS);
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Whether the process named in the lock has ended. An empty lock is being written: held. */
function holderGone(lock: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(lock, 'utf8'));
  } catch {
    return false;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Blocks the thread for `ms`. The edits are synchronous and take milliseconds; the wait is on
 * another process's real time, which no injected clock governs.
 */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
