import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFailed } from 'vitest';
import { createTether, type CreateTetherOptions } from '../../src/broker/create-tether.js';
import { createLogger } from '../../src/lib/logger.js';
import type { Tether } from '../../src/broker/api.js';
import { mockAgentEnv, startMockAnthropic, type MockAnthropic } from '../../src/testing/mock-anthropic.js';
import { mockCodexConfig, startMockResponses, type MockResponses } from '../../src/testing/mock-responses.js';

/**
 * Everything an end-to-end test needs to drive the real Claude Code and Codex binaries through
 * Tether: a local Messages API and a local Responses API (Codex's config.toml points at it), a
 * private HOME (so ~/.claude is the test's own; Codex homes go beside the database), a working
 * directory, a database file, and an environment that reaches nothing but the mocks.
 */
export interface AgentFixture {
  mock: MockAnthropic;
  /** The Responses API Codex talks to. */
  responses: MockResponses;
  /** The config.toml Tether's Codex homes are made from (TETHER_CODEX_CONFIG). */
  codexConfig: string;
  dir: string;
  home: string;
  cwd: string;
  dbPath: string;
  env: NodeJS.ProcessEnv;
  /** Opens a Tether on the fixture's database and environment; closed by cleanup(). */
  open(options?: CreateTetherOptions): Promise<Tether>;
  cleanup(): Promise<void>;
}

export async function agentFixture(): Promise<AgentFixture> {
  const mock = await startMockAnthropic();
  const responses = await startMockResponses();
  const dir = mkdtempSync(join(tmpdir(), 'tether-e2e-'));
  const home = join(dir, 'home');
  const cwd = join(dir, 'work');
  mkdirSync(home, { recursive: true });
  mkdirSync(cwd, { recursive: true });
  const codexConfig = join(dir, 'codex.toml');
  writeFileSync(codexConfig, mockCodexConfig(responses));
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, ...mockAgentEnv(mock), TETHER_CODEX_CONFIG: codexConfig };
  const dbPath = join(dir, 'tether.db');
  const opened: Tether[] = [];
  // Warnings are kept, not printed: a test that fails prints those of its Tethers (a lease given
  // up, a renewal that failed), which a rare failure on a loaded machine is diagnosed from.
  const warnings: string[] = [];
  let reporting = false;
  const logger = createLogger({ level: 'warn', format: 'json', sink: { write: (line) => warnings.push(line) } });
  return {
    mock,
    responses,
    codexConfig,
    dir,
    home,
    cwd,
    dbPath,
    env,
    async open(options: CreateTetherOptions = {}) {
      // No parked spares unless a test asks: each is a 200 MB process started for nothing.
      if (!reporting) {
        reporting = true;
        try {
          onTestFailed(() => void (warnings.length > 0 && console.error(`Tether's warnings in this test:\n${warnings.join('')}`)));
        } catch {
          // Opened by a beforeAll, outside any one test: nothing to report them with.
        }
      }
      const tether = await createTether({ db: dbPath, env, defaultCwd: cwd, logger, janitorIntervalSec: 0, spares: 0, ...options });
      opened.push(tether);
      return tether;
    },
    async cleanup() {
      await Promise.all(opened.map((t) => t.close({ graceMs: 2_000 }).catch(() => undefined)));
      await Promise.all([mock.stop(), responses.stop()]);
      // An agent process that was just ended may still be writing into HOME: retry ENOTEMPTY.
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    },
  };
}
