import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * A broker process names itself `host:pid:start:nonce` in leases and turns. `start` is the
 * process start time from /proc (Linux), so a recycled pid is not mistaken for the dead process
 * that once had it; elsewhere it is 0 and only the pid is checked.
 */
export interface OwnerId {
  readonly id: string;
  /** False when the named process is certainly gone (same host, pid absent or reused). */
  isAlive(owner: string): boolean;
}

function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) comes after the parenthesised command name, which may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

export function createOwnerId(): OwnerId {
  const host = hostname();
  const id = `${host}:${process.pid}:${startTimeOf(process.pid) ?? 0}:${randomBytes(4).toString('hex')}`;
  return {
    id,
    isAlive(owner: string): boolean {
      if (owner === id) return true;
      const parts = owner.split(':');
      if (parts.length < 4) return true;
      const [ownerHost, pidText, start] = parts;
      // Another machine's process cannot be checked from here: its lease expiry decides.
      if (ownerHost !== host) return true;
      const pid = Number(pidText);
      if (!Number.isInteger(pid) || pid <= 0) return false;
      if (pid === process.pid) return false; // our pid, another nonce: the old holder is gone
      try {
        process.kill(pid, 0);
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'EPERM';
      }
      const current = startTimeOf(pid);
      return current === null || start === '0' || current === start;
    },
  };
}
