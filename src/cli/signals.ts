import type { CliIO } from './output.js';

/**
 * The first SIGINT/SIGTERM calls `onFirst` (a turn is interrupted, or the daemon shuts down
 * gracefully); a second one means "now": listening stops and the signal takes its default
 * effect. Returns the unsubscribe.
 */
export function onStopSignals(io: CliIO, onFirst: (signal: NodeJS.Signals) => void): () => void {
  const source = io.signals ?? process;
  const handlers: Array<[NodeJS.Signals, () => void]> = [];
  let seen = false;
  const dispose = (): void => {
    for (const [signal, handler] of handlers.splice(0)) source.off(signal, handler);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const handler = (): void => {
      if (!seen) {
        seen = true;
        onFirst(signal);
        return;
      }
      dispose();
      if (io.signals === undefined) process.kill(process.pid, signal);
    };
    handlers.push([signal, handler]);
    source.on(signal, handler);
  }
  return dispose;
}

