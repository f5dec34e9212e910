import type { SpawnOptions, SpawnedProcess } from '@anthropic-ai/claude-agent-sdk';
import type { TranscriptMirror } from '../../store/ports/transcripts.js';
import { spawnAgent, type ProcessWatch } from '../process.js';

export { ProcessWatch } from '../process.js';

/** How every Claude Code process of a backend is started. */
export interface ClaudeLaunch {
  /** The Claude Code binary. */
  readonly binary: string;
  /** Tether's copy of every transcript (the store), or null: conversations live under ~/.claude only. */
  readonly archive: TranscriptMirror | null;
  /** Niceness added to each agent process (and so to the tools it runs); 0 leaves it as Tether's. */
  readonly nice: number;
}

/** A `spawnClaudeCodeProcess` for the SDK that starts the agent as every agent is (`spawnAgent`), recorded in `watch`. */
export function trackedSpawn(watch: ProcessWatch, nice = 0): (options: SpawnOptions) => SpawnedProcess {
  return (options) =>
    spawnAgent(watch, { command: options.command, args: options.args, cwd: options.cwd, env: options.env, signal: options.signal }, nice) as SpawnedProcess;
}
