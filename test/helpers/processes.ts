import { execFileSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** What each agent's processes look like in `ps`: Claude Code's binary, Codex's app-server. */
const AGENT_ARGS = {
  claude: /claude-agent-sdk[^ ]*\/claude(\s|$)/,
  codex: /\/codex app-server(\s|$)/,
};

/** Pids of agent processes that are children of `parent` (the agents a Tether started); this process by default. */
export function agentChildren(parent: number = process.pid, agent: keyof typeof AGENT_ARGS = 'claude'): number[] {
  let out: string;
  try {
    out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(parent)], { encoding: 'utf8' });
  } catch {
    return []; // ps exits 1 when there is no child at all
  }
  return out
    .split('\n')
    .filter((line) => AGENT_ARGS[agent].test(line))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Samples `fn` every `everyMs` until stopped; returns the largest value seen. */
export function sampleMax(fn: () => number, everyMs = 15): { stop(): number } {
  let max = fn();
  const timer = setInterval(() => {
    max = Math.max(max, fn());
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(max, fn());
    },
  };
}

/** The URL a `tether serve` child says it listens on (its first stdout line); rejects if it exits first. */
export function listeningUrl(child: ChildProcess, what = 'serve'): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /tether listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', () => reject(new Error(`${what} exited before listening`)));
  });
}

/** Pids of the processes whose environment holds `entry` (`NAME=value`): what a test's Tether and its agents inherit. */
export function processesWithEnv(entry: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').split('\0').includes(entry)) pids.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}
