import { existsSync, statSync } from 'node:fs';
import type { AgentBackend, Runner, RunnerSpec, Spare, TranscriptArchive } from '../agent.js';
import type { SessionConfig } from '../../domain/types.js';
import { fallbackContextWindow } from '../../domain/usage.js';
import { ErrorCode, TetherError, invalidInput } from '../../errors.js';
import { checkClaudeCredentials, resolveClaudeBinary } from './preflight.js';
import { ClaudeRunner, coldStart, type RunnerRecovery } from './runner.js';
import { ClaudeSpare } from './spare.js';
import { forkSession } from '@anthropic-ai/claude-agent-sdk';
import { checkResumable, promptEntries, promptText, sessionStoreOver } from './transcripts.js';

export interface ClaudeBackendOptions {
  /** A Claude Code binary to use instead of the one bundled with the Agent SDK. */
  claudePath?: string;
  /**
   * Tether's copy of every transcript (the store): mirrored on every turn through the SDK's
   * SessionStore and read back on resume. Without it, conversations live only under ~/.claude.
   */
  transcripts?: TranscriptArchive;
}

/** Claude Code through `@anthropic-ai/claude-agent-sdk`. */
export function createClaudeBackend(options: ClaudeBackendOptions = {}): AgentBackend {
  let binary: string | null = null;
  const archive = options.transcripts ?? null;
  const resolve = (): string => (binary ??= resolveClaudeBinary(options.claudePath));
  return {
    name: 'claude',
    locate: resolve,
    async preflight(config: SessionConfig, env: NodeJS.ProcessEnv): Promise<void> {
      if (!existsSync(config.cwd) || !statSync(config.cwd).isDirectory()) {
        throw invalidInput(`cwd ${config.cwd} is not an existing directory`);
      }
      resolve();
      checkClaudeCredentials(env);
    },
    open(spec: RunnerSpec): Runner {
      const recap = spec.recap;
      const recovery: RunnerRecovery | null = recap
        ? {
            canResume: async (id) => (await checkResumable(archive, id, spec.config.cwd, spec.env)) !== 'missing',
            restart: (id) => coldStart({ ...spec, resume: null, newConversationId: id }, resolve(), archive),
            recap,
          }
        : null;
      return new ClaudeRunner(spec, coldStart(spec, resolve(), archive), null, recovery);
    },
    prewarm(env: NodeJS.ProcessEnv): Promise<Spare> {
      return ClaudeSpare.start(resolve(), env, archive);
    },
    async verify(agentSessionId, cwd, env) {
      if (archive) await checkResumable(archive, agentSessionId, cwd, env);
    },
    async fork(source, keepPrompts) {
      if (!archive) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, 'forking needs the transcript mirror (TETHER_MIRROR_TRANSCRIPTS=true)');
      if ((await checkResumable(archive, source.agentSessionId, source.cwd, source.env)) === 'missing') {
        throw new TetherError(ErrorCode.INVALID_INPUT, `the conversation ${source.agentSessionId} has no transcript to fork`);
      }
      let upToMessageId: string | undefined;
      if (keepPrompts !== null) {
        const prompts = promptEntries((await archive.loadTranscript({ agentSessionId: source.agentSessionId })) ?? []);
        if (keepPrompts < 1) throw new TetherError(ErrorCode.INVALID_INPUT, 'a fork keeps at least the first turn');
        if (keepPrompts < prompts.length) upToMessageId = String(prompts[keepPrompts]!.parentUuid);
      }
      const forked = await forkSession(source.agentSessionId, {
        sessionStore: sessionStoreOver(archive),
        dir: source.cwd,
        ...(upToMessageId ? { upToMessageId } : {}),
      });
      return forked.sessionId;
    },
    async rewind(source, prompt) {
      if (!archive) throw new TetherError(ErrorCode.AGENT_UNAVAILABLE, 'regenerating needs the transcript mirror (TETHER_MIRROR_TRANSCRIPTS=true)');
      if ((await checkResumable(archive, source.agentSessionId, source.cwd, source.env)) === 'missing') {
        throw new TetherError(ErrorCode.INVALID_INPUT, `the conversation ${source.agentSessionId} has no transcript to regenerate from`);
      }
      const prompts = promptEntries((await archive.loadTranscript({ agentSessionId: source.agentSessionId })) ?? []);
      const last = prompts.at(-1);
      // The agent's copy of the prompt may open with a recap Tether put before it.
      if (!last || !promptText(last).includes(prompt)) return source.agentSessionId;
      if (prompts.length === 1 || !last.parentUuid) return null;
      const forked = await forkSession(source.agentSessionId, {
        sessionStore: sessionStoreOver(archive),
        dir: source.cwd,
        upToMessageId: String(last.parentUuid),
      });
      return forked.sessionId;
    },
    contextWindow: fallbackContextWindow,
    continuePrompt: 'continue',
  };
}
