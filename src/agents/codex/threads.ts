import type { AppServerHosts } from './hosts.js';
import type { RolloutMirror } from './rollouts.js';

/** What every Codex runner of a backend shares: the processes, the rollout mirror, the homes. */
export interface CodexThreads {
  hosts: AppServerHosts;
  rollouts: RolloutMirror;
  /** The tenant's CODEX_HOME, made if need be. */
  homeFor(tenant: string): string;
  /** The `-c` settings of a process started with `env`. */
  overrides(env: NodeJS.ProcessEnv): string[];
}
