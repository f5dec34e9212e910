import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { mockAgentEnv, startMockAnthropic, type MockAnthropic } from '../../src/testing/mock-anthropic.js';

/** The repository: the first directory above this file with the CLI (also from the bench's compiled copy). */
function repoRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'bin', 'tether.js')) || !existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the repository (bin/tether.js) above the test helpers');
    dir = up;
  }
  return dir;
}

/** The `tether` command. */
export const BIN = join(repoRoot(), 'bin', 'tether.js');
/** Whether the CLI is built (`npm test` builds first): tests of the built binary run only then. */
export const BUILT = existsSync(join(repoRoot(), 'dist', 'cli', 'main.js'));

/** What CLI tests run the CLI with: a local Messages API, a private HOME, a working directory. */
export interface CliFixture {
  mock: MockAnthropic;
  dir: string;
  /** The agents' working directory (TETHER_CWD). */
  work: string;
  /** Only what the agent needs: no TETHER_URL or real credentials leak in from the outer shell. */
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export async function cliFixture(prefix: string): Promise<CliFixture> {
  const mock = await startMockAnthropic();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const home = join(dir, 'home');
  const work = join(dir, 'work');
  mkdirSync(home);
  mkdirSync(work);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    ...mockAgentEnv(mock),
    TETHER_CWD: work,
    TETHER_LOG_LEVEL: 'silent',
    TETHER_JANITOR_INTERVAL: '0',
  };
  return {
    mock,
    dir,
    work,
    env,
    async stop() {
      await mock.stop();
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    },
  };
}
