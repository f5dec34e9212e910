import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { findBundledCodex } from '../../src/agents/codex/binary.js';
import { mockCodexConfig, startMockResponses, type MockResponses } from '../../src/testing/mock-responses.js';

interface ExecEvent {
  type: string;
  thread_id?: string;
  item?: { type: string; text?: string; message?: string };
  usage?: { input_tokens: number; cached_input_tokens: number; output_tokens: number; reasoning_output_tokens: number };
  error?: { message: string };
  message?: string;
}

/** The mock Responses API against the real Codex binary (`codex exec --json`), offline. */
describe('mock Responses API (real Codex binary)', () => {
  const binary = findBundledCodex();
  let mock: MockResponses;
  let dir: string;

  beforeAll(async () => {
    mock = await startMockResponses();
    dir = mkdtempSync(join(tmpdir(), 'tether-codex-mock-'));
    mkdirSync(join(dir, 'codex-home'));
    mkdirSync(join(dir, 'work'));
    writeFileSync(join(dir, 'codex-home', 'config.toml'), mockCodexConfig(mock));
  });
  afterAll(async () => {
    await mock?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 });
  });
  beforeEach(() => mock.reset());

  /** One `codex exec` (stdin closed, or it waits on it), its JSONL events and exit code. */
  const exec = (...args: string[]): Promise<{ code: number | null; events: ExecEvent[]; stderr: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn(binary!, ['exec', '--skip-git-repo-check', '--json', ...args], {
        cwd: join(dir, 'work'),
        env: { PATH: process.env.PATH, HOME: dir, CODEX_HOME: join(dir, 'codex-home') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('exit', (code) => resolve({ code, events: out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as ExecEvent), stderr }));
    });

  it('has the Codex binary of @openai/codex for this platform', () => {
    expect(binary).toMatch(/codex(\.exe)?$/);
  });

  it('streams a reply with its usage, and `exec resume` continues the same thread with the whole conversation', async () => {
    mock.enqueue({ text: 'Hello from the mock.', usage: { inputTokens: 1200, cachedTokens: 200, outputTokens: 7, reasoningTokens: 3 } });
    const first = await exec('say hello');
    expect(first.code).toBe(0);
    const thread = first.events.find((e) => e.type === 'thread.started')?.thread_id;
    expect(thread).toBeTruthy();
    expect(first.events.find((e) => e.item?.type === 'agent_message')?.item?.text).toBe('Hello from the mock.');
    expect(first.events.find((e) => e.type === 'turn.completed')?.usage).toMatchObject({ input_tokens: 1200, cached_input_tokens: 200, output_tokens: 7, reasoning_output_tokens: 3 });
    expect(first.events.some((e) => e.item?.type === 'error')).toBe(false);

    const second = await exec('resume', thread!, 'and again');
    expect(second.code).toBe(0);
    expect(second.events.find((e) => e.type === 'thread.started')?.thread_id).toBe(thread);
    expect(second.events.find((e) => e.item?.type === 'agent_message')?.item?.text).toBe('Reply #2: and again');
    expect(mock.requests.map((r) => [r.path, r.stream, r.model, r.userTexts])).toEqual([
      ['/v1/responses', true, 'gpt-5.5', ['say hello']],
      ['/v1/responses', true, 'gpt-5.5', ['say hello', 'and again']],
    ]);
  }, 60_000);

  it('a 500 or a dropped stream fails the turn (no retries configured), with the error in the events', async () => {
    mock.enqueue({ fault: { kind: 'status', status: 500, message: 'mock is down' } });
    const failed = await exec('this fails');
    expect(failed.code).not.toBe(0);
    // Codex words a server error its own way ("…high demand…"); the turn fails either way.
    expect(failed.events.find((e) => e.type === 'turn.failed')?.error?.message).toBeTruthy();
    expect(mock.requests).toHaveLength(1);

    mock.reset();
    mock.enqueue({ text: 'cut short by the mock', fault: { kind: 'drop' } });
    const dropped = await exec('this is cut');
    expect(dropped.code).not.toBe(0);
    expect(dropped.events.some((e) => e.type === 'turn.failed')).toBe(true);
    expect(dropped.events.some((e) => e.item?.type === 'agent_message')).toBe(false);
  }, 60_000);
});
