import { randomUUID } from 'node:crypto';
import { rmSync, statfsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { TetherError } from '../../errors.js';

/** Turns a SQLite failure into a TetherError that says what to do; anything else passes through. */
export function mapSqliteError(err: unknown, path: string, busyTimeoutMs: number): unknown {
  if (err instanceof TetherError || !(err instanceof Error)) return err;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return err;
  const unavailable = (message: string): TetherError =>
    new TetherError('STORE_UNAVAILABLE', message, { cause: err, details: { path, sqliteCode: code } });

  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return unavailable(
      `database is locked by another process: ${path} (waited ${busyTimeoutMs} ms for its write lock); ` +
        'retry, or raise busyTimeoutMs if another Tether or a tool holds long write transactions on this file',
    );
  }
  if (code === 'SQLITE_FULL') return unavailable(`database ${path} cannot grow: the disk is full; free some space and retry`);
  if (code.startsWith('SQLITE_READONLY')) {
    return unavailable(`database ${path} is read-only; check the permissions of the file and its directory, and that the disk is mounted read-write`);
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    // A WAL database on a read-only file system cannot be opened without its -shm file.
    if (diskState(path) === 'read-only') return unavailable(`cannot open database ${path}: its file system is read-only; remount it read-write`);
    return unavailable(`cannot open database ${path}; check that the path exists and is writable`);
  }
  if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
    return unavailable(`${path} is not a usable Tether database (${err.message}); restore it from a backup or point Tether at another file`);
  }
  if (code.startsWith('SQLITE_IOERR')) {
    // SQLite reports a write refused by a file system gone read-only (e.g. remounted so after an
    // error) or full as a plain I/O error; the file system itself can say which it was.
    const disk = diskState(path);
    if (disk === 'read-only') {
      return unavailable(`database ${path} is on a file system that is now read-only (${code}); remount it read-write (check the disk first) and restart Tether`);
    }
    if (disk === 'full') return unavailable(`database ${path} cannot grow: the disk is full (${code}); free some space and retry`);
    return unavailable(`disk I/O error on database ${path} (${code}: ${err.message}); check that its disk is healthy, has space and is mounted read-write, then retry`);
  }
  if (code.startsWith('SQLITE_')) return new TetherError('INTERNAL', `SQLite error ${code}: ${err.message}`, { cause: err });
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOSPC') {
    return unavailable(`cannot prepare database ${path}: ${err.message}`);
  }
  return err;
}

/**
 * What the file system holding `path` says when SQLite reports an I/O error: read-only, full, or
 * neither. A file system the kernel turned read-only after an error may still look writable to
 * access(2) (ext4's emergency read-only), so the probe is a real write: a file created and
 * removed next to the database, on this rare error path only.
 */
function diskState(path: string): 'read-only' | 'full' | null {
  if (path === ':memory:' || path === '') return null;
  const dir = dirname(resolve(path));
  const probe = join(dir, `.tether-probe-${process.pid}-${randomUUID()}`);
  try {
    writeFileSync(probe, 'x', { flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EROFS') return 'read-only';
    if (code === 'ENOSPC' || code === 'EDQUOT') return 'full';
  } finally {
    try {
      rmSync(probe, { force: true });
    } catch {
      // Nothing was created.
    }
  }
  try {
    if (statfsSync(dir).bavail === 0) return 'full';
  } catch {
    // No answer: the message stays the generic one.
  }
  return null;
}
