import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main, type CliIO } from '../../src/cli/main.js';
import type { MockAnthropic } from '../../src/testing/mock-anthropic.js';
import { cliFixture, type CliFixture } from '../helpers/cli-fixture.js';
import { waitFor } from '../helpers/wait.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Approvals from the CLI: `send --approvals ask` asking on a terminal or saying how to decide, and `approvals`/`approve`/`deny`. */
describe('tether approvals (CLI, real agent)', () => {
  let fixture: CliFixture | undefined;
  let mock: MockAnthropic;
  let dir: string;
  let work: string;
  let env: NodeJS.ProcessEnv;
  let db: string;
  let n = 0;

  beforeAll(async () => {
    fixture = await cliFixture('tether-cli-approvals-');
    ({ mock, dir, work, env } = fixture);
  });
  afterAll(async () => fixture?.stop());
  beforeEach(() => {
    db = join(dir, `tether-${++n}.db`);
    mock.reset();
  });

  /** Runs the CLI in-process; `err` fills as it runs, so a test can read it before the command ends. */
  function start(args: string[], extra: Partial<CliIO> = {}): { done: Promise<Run>; err: string[] } {
    const out: string[] = [];
    const err: string[] = [];
    const io: CliIO = { stdout: { write: (s) => void out.push(s) }, stderr: { write: (s) => void err.push(s) }, env, ...extra };
    const done = main(['--db', db, ...args], io).then((code) => ({ code, stdout: out.join(''), stderr: err.join('') }));
    return { done, err };
  }
  const run = (args: string[], extra: Partial<CliIO> = {}) => start(args, extra).done;
  const write = (file: string, id: string) => ({ toolUse: { name: 'Write', input: { file_path: file, content: 'from the cli' }, id } });

  it('without a terminal, send says how to decide; approve from another command lets the turn go on', async () => {
    const file = join(work, 'cli.txt');
    mock.enqueue(write(file, 'toolu_c1'), { text: 'Done by the CLI.' });
    const send = start(['send', 'cli:1', 'write', 'it', '--approvals', 'ask']);
    const id = await waitFor(() => /approval (\S+) waits for a decision: tether approve \1/.exec(send.err.join(''))?.[1], 30_000);
    const listed = await run(['approvals', '--json']);
    expect(JSON.parse(listed.stdout)).toMatchObject([{ id, status: 'pending', key: 'cli:1', tool: 'Write' }]);
    const table = await run(['approvals']);
    expect(table.stdout).toMatch(new RegExp(`^ID\\s+STATUS\\s+KEY\\s+KIND\\s+ASKS\\s+ASKED\\n${id}\\s+pending\\s+cli:1\\s+tool\\s+Write`));
    expect(await run(['approve', id])).toMatchObject({ code: 0, stdout: 'allowed Write for "cli:1"\n' });
    expect(await send.done).toMatchObject({ code: 0, stdout: 'Done by the CLI.\n' });
    expect(readFileSync(file, 'utf8')).toBe('from the cli');
    expect(await run(['approve', id])).toMatchObject({ code: 3, stderr: expect.stringContaining('ALREADY_DECIDED') });
    expect(await run(['deny', 'no-such-approval'])).toMatchObject({ code: 4, stderr: expect.stringContaining('NOT_FOUND') });
    expect((await run(['approvals'])).stdout).toBe('nothing waits for a decision\n');
    expect(JSON.parse((await run(['approvals', '--status', 'all', '--json'])).stdout)).toMatchObject([{ id, status: 'allowed', decidedBy: 'person' }]);
  });

  it('on a terminal, send asks inline: n with a reason denies, and the agent is told', async () => {
    const file = join(work, 'tty.txt');
    mock.enqueue(write(file, 'toolu_c2'), { text: 'I will leave it.' });
    const questions: string[] = [];
    const answers = ['maybe', 'n', 'keep the folder clean'];
    const ask = async (question: string): Promise<string> => {
      questions.push(question);
      return answers.shift() ?? '';
    };
    const r = await run(['send', 'cli:2', 'write', 'it', '--approvals', 'ask'], { ask });
    expect(r).toMatchObject({ code: 0, stdout: 'I will leave it.\n' });
    expect(questions[0]).toMatch(/^The agent asks: Write: tty.txt\nAllow\? \[y\]es \/ \[n\]o \/ \[a\]lways for this session: $/);
    // An answer it does not know asks again.
    expect(questions[1]).toBe(questions[0]);
    expect(questions[2]).toBe('Tell the agent why (optional): ');
    expect(existsSync(file)).toBe(false);
    const last = mock.mainRequests().at(-1)!.body.messages.at(-1).content;
    expect(JSON.stringify(last)).toContain('keep the folder clean');
  });

  it('--json prints the approval events for a program and asks nobody', async () => {
    mock.enqueue(write(join(work, 'json.txt'), 'toolu_c3'), { text: 'ok' });
    let asked = false;
    const send = start(['send', 'cli:3', 'write', '--approvals', 'ask', '--json'], {
      ask: async () => {
        asked = true;
        return 'y';
      },
    });
    const pending = await waitFor(async () => JSON.parse((await run(['approvals', '--json'])).stdout)[0], 30_000);
    await run(['deny', pending.id, '--message', 'no']);
    const r = await send.done;
    const types = r.stdout.trimEnd().split('\n').map((line) => JSON.parse(line).type);
    expect(types).toEqual(expect.arrayContaining(['approval.requested', 'approval.decided', 'turn.completed']));
    expect(asked).toBe(false);
  });
});
