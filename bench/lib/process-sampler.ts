import { Worker } from 'node:worker_threads';

export interface ProcessSample {
  max: number;
  samples: number;
  /** Mean time between two samples (one `ps` call takes a while). */
  meanIntervalMs: number;
}

/**
 * Counts this process's Claude Code children with test/helpers/processes.ts's `agentChildren()`
 * every `everyMs`, in a worker thread: `ps` is run synchronously, which must not stall the
 * broker's event loop being measured. Mode `proc` counts the same children from /proc directly.
 */
export function sampleAgentChildren(everyMs = 20, mode: 'ps' | 'proc' = 'ps'): { stop(): Promise<ProcessSample> } {
  const worker = new Worker(new URL('./process-sampler-worker.js', import.meta.url), { workerData: { everyMs, mode } });
  return {
    stop: () =>
      new Promise((resolve, reject) => {
        worker.once('message', (sample: ProcessSample) => {
          void worker.terminate();
          resolve(sample);
        });
        worker.once('error', reject);
        worker.postMessage('stop');
      }),
  };
}
