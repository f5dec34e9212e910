import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentBackend, Runner, RunnerSpec } from '../agent.js';
import type { TranscriptMirror } from '../../store/ports/transcripts.js';
import type { SessionConfig } from '../../domain/types.js';
import { fallbackContextWindow } from '../../domain/usage.js';
import { ErrorCode, TetherError, invalidInput } from '../../errors.js';
import type { CodexLaunch } from './app-server.js';
import { resolveCodexBinary } from './binary.js';
import { copyThread, type CopyWorkshop } from './copies.js';
import { environmentOverrides, prepareHome, processHomes, sweepOrphanedHomes } from './home.js';
import { AppServerHosts } from './hosts.js';
import { findRollout, RolloutMirror } from './rollouts.js';
import { CodexRunner } from './runner.js';
import { checkCodexSettings } from './settings.js';
import type { CodexThreads } from './threads.js';

export interface CodexBackendOptions {
  /** A Codex binary to use instead of the one bundled with `@openai/codex`. */
  codexPath?: string;
  /** The directory each tenant's CODEX_HOME is made in (`<it>/<tenant>`). */
  homesDir: string;
  /** The operator's config.toml, the base of every CODEX_HOME Tether makes (TETHER_CODEX_CONFIG). */
  baseConfig?: string;
  /** Threads one app-server process holds at most before another is started. */
  threadsPerProcess?: number;
  /** Tether's copy of every rollout (the store). Without it, threads live only in CODEX_HOME. */
  transcripts?: TranscriptMirror;
  /** Niceness added to every app-server process (0–19, default 0): see `spawnAgent`. */
  nice?: number;
  /** Tether's version, as the app-server names its client. */
  version?: string;
}

/** OpenAI's Codex through `codex app-server` (JSON-RPC over stdio), threads sharing processes. */
export function createCodexBackend(options: CodexBackendOptions): AgentBackend {
  let binary: string | null = null;
  const resolve = (): string => (binary ??= resolveCodexBinary(options.codexPath));
  const homes = { root: options.homesDir, baseConfig: options.baseConfig ?? null };
  const rollouts = new RolloutMirror(options.transcripts ?? null);
  let launch: CodexLaunch | null = null;
  const launchOf = (): CodexLaunch => (launch ??= { binary: resolve(), nice: options.nice ?? 0, version: options.version ?? '0.0.0' });
  let threads: CodexThreads | null = null;
  let swept: Promise<void> | null = null;
  const threadsOf = (): CodexThreads =>
    (threads ??= {
      hosts: new AppServerHosts(launchOf(), homes, options.threadsPerProcess ?? 8, async (home) => rollouts.keep(home)),
      rollouts,
      overrides: environmentOverrides,
      ready: () => (swept ??= sweepOrphanedHomes(homes.root, rollouts)),
    });
  const workshop = (what: string): CopyWorkshop => {
    if (!options.transcripts) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, `${what} needs the transcript mirror (TETHER_MIRROR_TRANSCRIPTS=true)`);
    return {
      launch: launchOf(),
      rollouts,
      scratchRoot: join(homes.root, '.copies'),
      prepareHome: (home) => prepareHome(home, homes.baseConfig),
      overrides: environmentOverrides,
    };
  };
  return {
    name: 'codex',
    locate: resolve,
    async preflight(config: SessionConfig): Promise<void> {
      if (!existsSync(config.cwd) || !statSync(config.cwd).isDirectory()) throw invalidInput(`cwd ${config.cwd} is not an existing directory`);
      checkCodexSettings(config);
      if (homes.baseConfig && !existsSync(homes.baseConfig)) {
        throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, `TETHER_CODEX_CONFIG names ${homes.baseConfig}, which does not exist`);
      }
      resolve();
    },
    open(spec: RunnerSpec): Runner {
      return new CodexRunner(spec, threadsOf());
    },
    async verify(agentSessionId) {
      // Export reads the store: complete it from any home on this machine that has more of the rollout.
      for (const { home } of processHomes(homes.root)) {
        const path = findRollout(home, agentSessionId);
        if (path) await rollouts.reconcile(agentSessionId, path);
      }
    },
    async fork(source, keepPrompts) {
      return (await copyThread(workshop('forking'), source.agentSessionId, source.env, { keepPrompts }))!;
    },
    async rewind(source, prompt) {
      return copyThread(workshop('regenerating'), source.agentSessionId, source.env, { rewind: prompt });
    },
    contextWindow: fallbackContextWindow,
    // Codex takes a turn from any text; `continue` is what a person would type.
    continuePrompt: 'continue',
  };
}
