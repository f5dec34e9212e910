import { readdirSync, readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { agentChildren } from '../../test/helpers/processes.js';

/**
 * Counts the parent process's Claude Code children every `everyMs`, start to start, until told
 * to stop. `ps`: test/helpers/processes.ts's agentChildren(); `proc`: the same count read
 * straight from /proc (much cheaper, so it keeps the 20 ms pace when ps cannot).
 */
const { everyMs, mode } = workerData as { everyMs: number; mode: 'ps' | 'proc' };

function procChildren(): number {
  let n = 0;
  for (const entry of readdirSync('/proc')) {
    if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const ppid = Number(stat.slice(close + 2).split(' ')[1]);
    if (ppid === process.pid && comm === 'claude') n++;
  }
  return n;
}

const count = mode === 'ps' ? () => agentChildren().length : procChildren;
let max = 0;
let samples = 0;
const started = performance.now();
let stopped = false;

const tick = (): void => {
  if (stopped) return;
  const t = performance.now();
  max = Math.max(max, count());
  samples++;
  setTimeout(tick, Math.max(1, everyMs - (performance.now() - t)));
};
tick();

parentPort!.on('message', () => {
  stopped = true;
  max = Math.max(max, count());
  samples++;
  parentPort!.postMessage({ max, samples, meanIntervalMs: (performance.now() - started) / samples });
});
