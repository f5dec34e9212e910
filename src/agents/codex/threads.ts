import type { AppServerHosts } from './hosts.js';
import type { RolloutMirror } from './rollouts.js';

/** What every Codex runner of a backend shares: the processes, the rollout mirror, the settings. */
export interface CodexThreads {
  hosts: AppServerHosts;
  rollouts: RolloutMirror;
  /** The `-c` settings of a process started with `env`. */
  overrides(env: NodeJS.ProcessEnv): string[];
  /** Resolves once the homes a crashed Tether left are swept (their rollouts mirrored first). */
  ready(): Promise<void>;
}
