import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mockAgentEnv, startMockAnthropic, type MockAnthropic } from './mock-anthropic.js';
import { mockCodexConfig, startMockResponses, type MockResponses } from './mock-responses.js';

/** Both mock APIs, for Claude Code and for Codex, and the settings that point the agents at them. */
export interface MockAgents {
  anthropic: MockAnthropic;
  responses: MockResponses;
  /** A Codex config.toml for the mock Responses API (TETHER_CODEX_CONFIG); removed by `stop`. */
  codexConfig: string;
  /** ANTHROPIC_BASE_URL and the rest for Claude Code, and TETHER_CODEX_CONFIG for Codex. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Starts the mock Messages API and the mock Responses API (on `anthropicPort` / `responsesPort`, default any free one). */
export async function startMockAgents(options: { host?: string; anthropicPort?: number; responsesPort?: number } = {}): Promise<MockAgents> {
  const host = options.host ?? '127.0.0.1';
  const anthropic = await startMockAnthropic({ host, port: options.anthropicPort ?? 0 });
  let responses: MockResponses;
  try {
    responses = await startMockResponses({ host, port: options.responsesPort ?? 0 });
  } catch (err) {
    await anthropic.stop();
    throw err;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tether-mock-codex-'));
  const codexConfig = join(dir, 'config.toml');
  writeFileSync(codexConfig, mockCodexConfig(responses));
  return {
    anthropic,
    responses,
    codexConfig,
    env: { ...mockAgentEnv(anthropic), TETHER_CODEX_CONFIG: codexConfig },
    async stop() {
      await Promise.all([anthropic.stop(), responses.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
