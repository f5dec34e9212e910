import { readdirSync, readFileSync } from 'node:fs';

/**
 * Finds processes by an environment marker. Agents and every tool they start inherit Tether's
 * markers, and keep them when they are reparented or start their own session, so the
 * environment still names them after the parent chain and the process group are gone.
 * Linux only (/proc); elsewhere it finds nothing.
 */
export function processesWithEnv(name: string): Array<{ pid: number; value: string }> {
  if (process.platform !== 'linux') return [];
  const needle = `${name}=`;
  const found: Array<{ pid: number; value: string }> = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, 'latin1');
    } catch {
      continue; // gone, or not ours to read
    }
    for (const pair of environ.split('\0')) {
      if (pair.startsWith(needle)) {
        found.push({ pid, value: pair.slice(needle.length) });
        break;
      }
    }
  }
  return found;
}

/** SIGKILLs every process whose `name` marker satisfies `match`. Returns how many. */
export function killMarked(name: string, match: (value: string) => boolean): number {
  let killed = 0;
  for (const { pid, value } of processesWithEnv(name)) {
    if (!match(value)) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed++;
    } catch {
      // exited meanwhile
    }
  }
  return killed;
}
