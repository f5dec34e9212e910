import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { every, systemClock, type Clock, type Timer } from '../domain/clock.js';

/** What the watch reads about processes; /proc on Linux, tests give their own. */
export interface ProcessTable {
  /** Our own pid. */
  readonly self: number;
  /** The parent pid of `pid`, or null when the process is gone (or cannot be read). */
  ppidOf(pid: number): number | null;
  /** The command line of `pid`, or null when unknown. */
  argsOf(pid: number): string[] | null;
}

/**
 * Linux's /proc. Elsewhere only our own parent is known (`process.ppid`, which Node reads afresh
 * each time), so the wrapper shell is not seen through there.
 */
export const systemProcessTable: ProcessTable = {
  self: process.pid,
  ppidOf(pid) {
    if (pid === process.pid) return process.ppid;
    try {
      // "pid (comm) state ppid …"; comm may hold spaces and parentheses: split after the last ')'.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return state === 'Z' ? null : Number(ppid);
    } catch {
      return null;
    }
  },
  argsOf(pid) {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      return null;
    }
  },
};

const SHELLS = new Set(['sh', 'dash', 'bash', 'zsh', 'ash', 'ksh']);
/** Package managers run a script as `sh -c '<script>'`; a shell in between is followed, not more. */
const MAX_WRAPPERS = 3;

export interface ParentWatchOptions {
  clock?: Clock;
  everyMs?: number;
  table?: ProcessTable;
}

/**
 * Calls `onGone` once the process that started us has gone: our parent changed (we were
 * reparented to init or a subreaper), or, when our parent is only the `sh -c` a package manager
 * runs scripts with, that shell's parent changed. `npm start` killed hard leaves the shell
 * waiting on us, so our own parent alone would never change. Returns the stop.
 */
export function watchParent(onGone: () => void, options: ParentWatchOptions = {}): Timer {
  const table = options.table ?? systemProcessTable;
  const links = launchChain(table);
  let fired = false;
  const timer = every(
    options.clock ?? systemClock,
    options.everyMs ?? 1_000,
    () => {
      if (fired || links.every(({ pid, ppid }) => table.ppidOf(pid) === ppid)) return;
      fired = true;
      timer.cancel();
      onGone();
    },
    // A watch must not keep the daemon alive by itself.
    { unref: true },
  );
  return timer;
}

/** Each process between us and whoever started us, with the parent it has now. */
function launchChain(table: ProcessTable): Array<{ pid: number; ppid: number }> {
  const links: Array<{ pid: number; ppid: number }> = [];
  let pid = table.self;
  for (let depth = 0; depth <= MAX_WRAPPERS; depth++) {
    const ppid = table.ppidOf(pid);
    if (ppid === null) break;
    links.push({ pid, ppid });
    if (ppid <= 1 || !isScriptShell(table.argsOf(ppid))) break;
    pid = ppid;
  }
  return links;
}

function isScriptShell(args: string[] | null): boolean {
  return args !== null && args.length >= 2 && SHELLS.has(basename(args[0]!).replace(/^-/, '')) && args.includes('-c');
}
