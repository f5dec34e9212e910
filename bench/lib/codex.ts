import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppServer } from '../../src/agents/codex/app-server.js';
import { findBundledCodex } from '../../src/agents/codex/binary.js';
import { mockCodexConfig, startMockResponses, type MockResponses } from '../../src/testing/mock-responses.js';

/** What a Codex benchmark runs in: the mock Responses API, a config.toml for it, a HOME and a working directory. */
export interface CodexBenchFixture {
  mock: MockResponses;
  dir: string;
  cwd: string;
  /** The operator's config.toml Tether's homes are made from (TETHER_CODEX_CONFIG). */
  codexConfig: string;
  env: NodeJS.ProcessEnv;
  binary: string;
  /** A CODEX_HOME with the config, for a driver or `codex exec` outside Tether. */
  home(name: string): string;
  cleanup(): Promise<void>;
}

export async function codexBenchFixture(name: string): Promise<CodexBenchFixture> {
  const binary = findBundledCodex();
  if (!binary) throw new Error('the Codex binary of @openai/codex is not installed');
  const mock = await startMockResponses();
  const dir = mkdtempSync(join(tmpdir(), `tether-bench-${name}-`));
  const cwd = join(dir, 'work');
  mkdirSync(cwd, { recursive: true });
  mkdirSync(join(dir, 'home'), { recursive: true });
  const codexConfig = join(dir, 'codex.toml');
  writeFileSync(codexConfig, mockCodexConfig(mock));
  return {
    mock,
    dir,
    cwd,
    codexConfig,
    env: { PATH: process.env.PATH, HOME: join(dir, 'home') },
    binary,
    home(homeName) {
      const home = join(dir, homeName);
      mkdirSync(home, { recursive: true });
      writeFileSync(join(home, 'config.toml'), mockCodexConfig(mock));
      return home;
    },
    async cleanup() {
      await mock.stop();
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
    },
  };
}

/**
 * The seeds' way: one `codex exec` process per message, continuing with `exec resume <thread>`.
 * Timed from spawn until its `turn.completed` line is on stdout (what a caller could act on).
 */
export function codexExec(fx: CodexBenchFixture, home: string, prompt: string, resume: string | null): Promise<{ ms: number; threadId: string; text: string }> {
  const args = ['exec', '--skip-git-repo-check', '--json', ...(resume ? ['resume', resume] : []), prompt];
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(fx.binary, args, { cwd: fx.cwd, env: { ...fx.env, CODEX_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let doneAt = Number.NaN;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (Number.isNaN(doneAt) && out.includes('"type":"turn.completed"')) doneAt = performance.now();
    });
    child.stderr.resume();
    child.on('error', reject);
    child.on('close', (code) => {
      const events = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; thread_id?: string; item?: { type: string; text?: string } });
      const threadId = events.find((e) => e.type === 'thread.started')?.thread_id;
      const text = events.find((e) => e.item?.type === 'agent_message')?.item?.text ?? '';
      if (code !== 0 || !threadId || Number.isNaN(doneAt)) return reject(new Error(`codex exec exited ${code}: ${out.slice(-500)}`));
      resolve({ ms: doneAt - started, threadId, text });
    });
  });
}

/**
 * The best any broker can do on Codex: the app-server driven directly (Tether's own JSON-RPC
 * client, no store, no journal, no queue), one warm thread, a turn timed from `turn/start` until
 * its `turn/completed`.
 */
export class RawCodexThread {
  #server: AppServer | null = null;
  #threadId = '';
  #done: ((turnId: string) => void) | null = null;

  static async open(fx: CodexBenchFixture, home: string): Promise<RawCodexThread> {
    const raw = new RawCodexThread();
    const env = { ...fx.env, CODEX_HOME: home };
    raw.#server = await AppServer.start({ binary: fx.binary, nice: 0, version: '0.0.0' }, env, []);
    const started = await raw.#server.request<{ thread: { id: string } }>('thread/start', { cwd: fx.cwd, approvalPolicy: 'never', sandbox: 'workspace-write' });
    raw.#threadId = started.thread.id;
    raw.#server.listen(raw.#threadId, {
      notification: (method, params) => {
        if (method === 'turn/completed') raw.#done?.((params.turn as { id: string }).id);
      },
      request: async () => ({ decision: 'decline' }),
      exited: () => undefined,
    });
    return raw;
  }

  async turn(prompt: string): Promise<number> {
    const started = performance.now();
    const completed = new Promise<string>((resolve) => (this.#done = resolve));
    await this.#server!.request('turn/start', { threadId: this.#threadId, input: [{ type: 'text', text: prompt, text_elements: [] }] });
    await completed;
    return performance.now() - started;
  }

  async close(): Promise<void> {
    await this.#server?.close();
  }
}

/** Proportional set size of a process in bytes (its share of pages it shares with others), from /proc. */
export function pssBytes(pid: number): number {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const m = /^Pss:\s+(\d+) kB/m.exec(rollup);
  return m ? Number(m[1]) * 1024 : 0;
}
