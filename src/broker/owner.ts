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
  /** False when the named broker is certainly gone (same host, pid absent or reused, or closed). */
  isAlive(owner: string): boolean;
  /** Marks this broker closed: its leftovers become recoverable by the others in this process. */
  release(): void;
  /** Whether `owner` runs on this host (so `isAlive` can check its process). */
  isLocal(owner: string): boolean;
}

/** Environment marker naming the broker that started an agent; its tools inherit it. */
export const OWNER_MARKER = 'TETHER_OWNER';

/** Brokers open in this process: several may share the pid (a library used twice, tests). */
const openHere = new Set<string>();

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
  openHere.add(id);
  return {
    id,
    release: () => openHere.delete(id),
    isLocal: (owner: string) => owner.split(':')[0] === host,
    isAlive(owner: string): boolean {
      if (owner === id) return true;
      const parts = owner.split(':');
      if (parts.length < 4) return true;
      const [ownerHost, pidText, start] = parts;
      // Another machine's process cannot be checked from here: its lease expiry decides.
      if (ownerHost !== host) return true;
      const pid = Number(pidText);
      if (!Number.isInteger(pid) || pid <= 0) return false;
      // Our pid: alive only if that broker is open in this process (else a previous process had the pid).
      if (pid === process.pid) return openHere.has(owner);
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
