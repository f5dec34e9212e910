import type { AgentBackend, Runner, RunnerSettings } from '../../src/agents/agent.js';

/**
 * A backend whose runners' turns go through `wrap` (to stamp what passes between the agent and
 * the broker); everything else is the backend's own.
 */
export function wrapRuns(backend: AgentBackend, wrap: (run: Runner['run']) => Runner['run']): AgentBackend {
  return {
    ...backend,
    open(spec): Runner {
      const runner = backend.open(spec);
      return {
        run: wrap((prompt, signal, hooks) => runner.run(prompt, signal, hooks)),
        close: () => runner.close(),
        get pid() {
          return runner.pid;
        },
        get alive() {
          return runner.alive;
        },
        get settings() {
          return runner.settings;
        },
        ...(runner.reconfigure ? { reconfigure: (change: RunnerSettings) => runner.reconfigure!(change) } : {}),
      };
    },
  };
}
