import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBundledClaude } from '../../src/agents/claude/preflight.js';
import { mockAgentEnv, startMockAnthropic, type MockAnthropic, type MockAnthropicOptions } from '../../src/testing/mock-anthropic.js';

/**
 * What every agent benchmark runs in: the mock Messages API, a private HOME (so ~/.claude is
 * the benchmark's own), a working directory, and an environment that reaches only the mock.
 * Both sides of a comparison share one fixture: same binary, same HOME, same mock.
 */
export interface BenchFixture {
  mock: MockAnthropic;
  dir: string;
  home: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The real Claude Code binary inside the Agent SDK package. */
  binary: string;
  cleanup(): Promise<void>;
}

export function claudeBinary(): string {
  const binary = findBundledClaude();
  if (!binary) throw new Error('the Claude Code binary of @anthropic-ai/claude-agent-sdk is not installed');
  return binary;
}

export async function benchFixture(name: string, mockOptions: MockAnthropicOptions = {}): Promise<BenchFixture> {
  const mock = await startMockAnthropic(mockOptions);
  const dir = mkdtempSync(join(tmpdir(), `tether-bench-${name}-`));
  const home = join(dir, 'home');
  const cwd = join(dir, 'work');
  mkdirSync(home, { recursive: true });
  mkdirSync(cwd, { recursive: true });
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, ...mockAgentEnv(mock) };
  return {
    mock,
    dir,
    home,
    cwd,
    env,
    binary: claudeBinary(),
    async cleanup() {
      await mock.stop();
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    },
  };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000, everyMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
