import { execFileSync } from 'node:child_process';

/** Pids of Claude Code processes that are children of `parent` (the agents a Tether started); this process by default. */
export function agentChildren(parent: number = process.pid): number[] {
  let out: string;
  try {
    out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(parent)], { encoding: 'utf8' });
  } catch {
    return []; // ps exits 1 when there is no child at all
  }
  return out
    .split('\n')
    .filter((line) => /claude-agent-sdk[^ ]*\/claude(\s|$)/.test(line))
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
