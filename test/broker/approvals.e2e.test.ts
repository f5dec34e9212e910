import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import type { Tether } from '../../src/broker/api.js';
import { ManualClock } from '../../src/domain/clock.js';
import type { ApprovalEvent, TetherEvent } from '../../src/domain/events.js';
import { ErrorCode } from '../../src/errors.js';
import type { RecordedRequest } from '../../src/testing/mock-anthropic.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';
import { nextRequest } from '../helpers/approvals.js';
import { agentChildren, isRunning } from '../helpers/processes.js';
import { adminQuery, postgresUnreachable, TEST_DATABASE_URL } from '../helpers/postgres.js';
import { waitFor } from '../helpers/wait.js';
import { BIN, BUILT } from '../helpers/cli-fixture.js';


/** The tool results the agent sent back in a request to the model. */
function toolResults(req: RecordedRequest): Array<{ tool_use_id: string; content: string; is_error?: boolean }> {
  const out: Array<{ tool_use_id: string; content: string; is_error?: boolean }> = [];
  for (const m of req.body?.messages ?? []) {
    if (m.role !== 'user' || !Array.isArray(m.content)) continue;
    for (const b of m.content) {
      if (b?.type === 'tool_result') out.push({ ...b, content: typeof b.content === 'string' ? b.content : JSON.stringify(b.content) });
    }
  }
  return out;
}

/** Whether the last message of a request to the model reports the outcome of tool call `id`. */
function reportsCall(req: RecordedRequest, id: string): boolean {
  const last = req.body?.messages?.at(-1);
  return Array.isArray(last?.content) && last.content.some((b: { type?: string; tool_use_id?: string }) => b?.type === 'tool_result' && b.tool_use_id === id);
}

describe('approvals (real agent)', () => {
  let fx: AgentFixture;
  beforeEach(async () => {
    fx = await agentFixture();
  });
  const children: ChildProcess[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    await fx.cleanup();
  });

  const writeCall = (file: string, id: string, content = 'hello') => ({ toolUse: { name: 'Write', input: { file_path: file, content }, id } });

  /** A turn of `key` whose agent asks to write `name` (call `id`), then says `reply`: the file, the turn, the approval asked. */
  const askToWrite = async (tether: Tether, key: string, name: string, id: string, reply: string) => {
    const file = join(fx.cwd, name);
    fx.mock.enqueue(writeCall(file, id), { text: reply });
    const asked = nextRequest(tether);
    const handle = tether.send(key, 'write the file');
    return { file, handle, request: await asked };
  };

  it('allow: the tool runs once, the agent gets its result, and every event is on the turn stream', async () => {
    const tether = await fx.open({ approvals: 'ask' });
    const file = join(fx.cwd, 'allowed.txt');
    fx.mock.enqueue({ text: 'Writing.', ...writeCall(file, 'toolu_w1') }, { text: 'Wrote it.' });
    const asked = nextRequest(tether);
    const handle = tether.send('ask:allow', 'write the file');
    const events: TetherEvent[] = [];
    const collected = (async () => {
      for await (const event of handle) events.push(event);
    })();
    const request = await asked;
    expect(request).toMatchObject({ type: 'approval.requested', key: 'ask:allow', tool: 'Write', toolUseId: 'toolu_w1', status: 'pending', kind: 'tool' });
    expect(request.input).toEqual({ file_path: file, content: 'hello' });
    expect(existsSync(file)).toBe(false);
    expect(await tether.approvals({ status: 'pending' })).toMatchObject([{ id: request.id, turnId: request.turnId }]);
    const decided = await tether.decide(request.id, { decision: 'allow' });
    expect(decided).toMatchObject({ id: request.id, status: 'allowed', decidedBy: 'person' });
    expect((await handle.result).text).toBe('Wrote it.');
    await collected;
    expect(readFileSync(file, 'utf8')).toBe('hello');
    const results = toolResults(fx.mock.mainRequests().at(-1)!);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ tool_use_id: 'toolu_w1' });
    expect(results[0]!.is_error).not.toBe(true);
    const types = events.map((e) => e.type);
    expect(types.indexOf('approval.requested')).toBeLessThan(types.indexOf('approval.decided'));
    expect(types.indexOf('approval.decided')).toBeLessThan(types.indexOf('turn.completed'));
    expect(events.find((e) => e.type === 'approval.decided')).toMatchObject({ id: request.id, status: 'allowed' });
    expect(await tether.approvals({ status: 'pending' })).toEqual([]);
  });

  it('deny: nothing runs, the agent is told why and goes on', async () => {
    const tether = await fx.open({ approvals: 'ask' });
    const { file, handle, request } = await askToWrite(tether, 'ask:deny', 'denied.txt', 'toolu_d1', 'Understood, I will not.');
    await tether.decide(request.id, { decision: 'deny', message: 'not in this folder' });
    expect((await handle.result).text).toBe('Understood, I will not.');
    expect(existsSync(file)).toBe(false);
    const [result] = toolResults(fx.mock.mainRequests().at(-1)!);
    expect(result).toMatchObject({ tool_use_id: 'toolu_d1', is_error: true });
    expect(result!.content).toContain('not in this folder');
  });

  it('remember: the next such call of the session needs no person', async () => {
    const tether = await fx.open({ approvals: 'ask' });
    const first = join(fx.cwd, 'one.txt');
    const second = join(fx.cwd, 'two.txt');
    fx.mock.enqueue(writeCall(first, 'toolu_r1'), { text: 'one done' });
    const asked = nextRequest(tether);
    const one = tether.send('ask:remember', 'write one');
    const request = await asked;
    expect(request.suggestions.length).toBeGreaterThan(0);
    await tether.decide(request.id, { decision: 'allow', remember: 'session' });
    await one.result;
    fx.mock.enqueue(writeCall(second, 'toolu_r2'), { text: 'two done' });
    expect((await tether.send('ask:remember', 'write two').result).text).toBe('two done');
    expect(readFileSync(second, 'utf8')).toBe('hello');
    expect((await tether.approvals()).map((a) => [a.toolUseId, a.decidedBy])).toEqual([['toolu_r1', 'person']]);
  });

  it('remember outlives the agent process: a new one is allowed the call by the rule, journaled so', async () => {
    const first = await fx.open({ approvals: 'ask' });
    fx.mock.enqueue(writeCall(join(fx.cwd, 'a.txt'), 'toolu_p1'), { text: 'a done' });
    const asked = nextRequest(first);
    const one = first.send('ask:rule', 'write a');
    await first.decide((await asked).id, { decision: 'allow', remember: 'session' });
    await one.result;
    await first.close();
    const second = await fx.open({ approvals: 'ask' });
    fx.mock.enqueue(writeCall(join(fx.cwd, 'b.txt'), 'toolu_p2'), { text: 'b done' });
    const events: TetherEvent[] = [];
    second.on('*', (e) => events.push(e));
    expect((await second.send('ask:rule', 'write b').result).text).toBe('b done');
    expect(readFileSync(join(fx.cwd, 'b.txt'), 'utf8')).toBe('hello');
    expect((await second.approvals()).map((a) => [a.toolUseId, a.status, a.decidedBy])).toEqual([
      ['toolu_p1', 'allowed', 'person'],
      ['toolu_p2', 'allowed', 'rule'],
    ]);
    expect(events.filter((e) => e.type.startsWith('approval.')).map((e) => e.type)).toEqual(['approval.requested', 'approval.decided']);
  });

  it("a question to the user is an approval whose decision carries the answers, which the agent receives", async () => {
    const tether = await fx.open({ approvals: 'ask' });
    const questions = [
      {
        question: 'Which color should the button be?',
        header: 'Color',
        options: [
          { label: 'Red', description: 'A red button' },
          { label: 'Blue', description: 'A blue button' },
        ],
        multiSelect: false,
      },
    ];
    fx.mock.enqueue({ toolUse: { name: 'AskUserQuestion', input: { questions }, id: 'toolu_q1' } }, { text: 'Blue it is.' });
    const asked = nextRequest(tether);
    const handle = tether.send('ask:question', 'style the button');
    const request = await asked;
    expect(request).toMatchObject({ kind: 'question', tool: 'AskUserQuestion', input: { questions } });
    await tether.decide(request.id, { decision: 'allow', answers: { 'Which color should the button be?': 'Blue' } });
    expect((await handle.result).text).toBe('Blue it is.');
    const [result] = toolResults(fx.mock.mainRequests().at(-1)!);
    expect(result).toMatchObject({ tool_use_id: 'toolu_q1' });
    expect(result!.content).toContain('"Which color should the button be?"="Blue"');
    expect(result!.is_error).not.toBe(true);
  });

  it('interrupt while pending: the approval expires (interrupt), the turn ends interrupted, nothing ran', async () => {
    const tether = await fx.open({ approvals: 'ask' });
    const { file, handle, request } = await askToWrite(tether, 'ask:interrupt', 'never.txt', 'toolu_i1', 'after the interrupt');
    await tether.interrupt('ask:interrupt');
    await expect(handle.result).rejects.toMatchObject({ code: ErrorCode.INTERRUPTED });
    expect(await tether.approval(request.id)).toMatchObject({ status: 'expired', decidedBy: 'interrupt' });
    await expect(tether.decide(request.id, { decision: 'allow' })).rejects.toMatchObject({ code: ErrorCode.ALREADY_DECIDED });
    expect(existsSync(file)).toBe(false);
  });

  it('expires after the timeout, counted as a denial the agent is told about', async () => {
    const clock = new ManualClock(Date.now());
    const tether = await fx.open({ approvals: 'ask', approvalTimeoutSec: 60, clock });
    const file = join(fx.cwd, 'late.txt');
    fx.mock.enqueue(writeCall(file, 'toolu_t1'), { text: 'nobody answered' });
    const asked = nextRequest(tether);
    const handle = tether.send('ask:timeout', 'write the file');
    const request = await asked;
    clock.advance(61_000);
    expect((await handle.result).text).toBe('nobody answered');
    expect(await tether.approval(request.id)).toMatchObject({ status: 'expired', decidedBy: 'timeout' });
    const [result] = toolResults(fx.mock.mainRequests().at(-1)!);
    expect(result!.content).toContain('Nobody decided this tool call in time');
    expect(existsSync(file)).toBe(false);
  });

  it('a long wait parks the turn: its agent process ends, and a new one goes on from the decision in the same turn and conversation', async () => {
    const tether = await fx.open({ approvals: 'ask', approvalParkSec: 0 });
    const file = join(fx.cwd, 'parked.txt');
    // The call, the same call again once the agent hears it was allowed, then the reply.
    fx.mock.setDefault((req) => {
      if (reportsCall(req, 'toolu_k2')) return { text: 'Written after the wait.' };
      if (req.lastUserText.startsWith('[Tether]')) return writeCall(file, 'toolu_k2');
      return req.lastUserText === 'write the file' ? writeCall(file, 'toolu_k1') : { text: 'unexpected request' };
    });
    const asked = nextRequest(tether);
    const handle = tether.send('ask:park', 'write the file');
    const request = await asked;
    // Parked: no agent process is left for the turn while the person thinks.
    await waitFor(async () => agentChildren().length === 0 && (await tether.stats()).runners.live === 0);
    expect((await tether.getTurn(request.turnId))?.status).toBe('running');
    await tether.decide(request.id, { decision: 'allow' });
    const result = await handle.result;
    expect(result.text).toBe('Written after the wait.');
    expect(readFileSync(file, 'utf8')).toBe('hello');
    const turns = await tether.turns('ask:park');
    expect(turns.map((t) => [t.status, t.prompt])).toEqual([['succeeded', 'write the file']]);
    // The same conversation: the agent's next request carries the first prompt and the decision.
    const texts = fx.mock.mainRequests().at(-2)!.userTexts;
    expect(texts[0]).toBe('write the file');
    expect(texts.at(-1)).toContain('A person allowed your Write call (toolu_k1)');
    expect((await tether.approvals()).map((a) => [a.toolUseId, a.status, a.answeredAt !== null])).toEqual([['toolu_k1', 'allowed', true]]);
  });

  it('interrupting a parked turn ends it interrupted and its approval expired, with no process started', async () => {
    const tether = await fx.open({ approvals: 'ask', approvalParkSec: 0 });
    fx.mock.enqueue(writeCall(join(fx.cwd, 'never.txt'), 'toolu_pi'));
    const asked = nextRequest(tether);
    const handle = tether.send('ask:park-interrupt', 'write the file');
    const request = await asked;
    await waitFor(async () => agentChildren().length === 0 && (await tether.stats()).runners.live === 0);
    const requestsBefore = fx.mock.mainRequests().length;
    expect(await tether.interrupt('ask:park-interrupt')).toEqual({ turnId: request.turnId });
    await expect(handle.result).rejects.toMatchObject({ code: ErrorCode.INTERRUPTED });
    expect(await tether.approval(request.id)).toMatchObject({ status: 'expired', decidedBy: 'interrupt' });
    expect(fx.mock.mainRequests()).toHaveLength(requestsBefore);
    expect(agentChildren()).toEqual([]);
  });

  it.runIf(BUILT)('survives kill -9 while pending: after a restart it is still pending, and deciding it finishes the same turn', async () => {
    const file = join(fx.cwd, 'after-crash.txt');
    // Answered by what each request carries, not in arrival order: a request the agent makes on
    // its own (one more on a slow machine) cannot shift the script.
    fx.mock.setDefault((req) => {
      if (reportsCall(req, 'toolu_x2')) return { text: 'Done after the restart.' };
      if (req.lastUserText.startsWith('[Tether]')) return writeCall(file, 'toolu_x2');
      if (reportsCall(req, 'toolu_x1')) return { text: 'Waiting for the decision.' };
      return req.lastUserText === 'write the file' ? writeCall(file, 'toolu_x1') : { text: 'unexpected request' };
    });
    // On a failure, what the agent asked the model and was answered, in order.
    onTestFailed(() =>
      console.error(
        fx.mock.mainRequests().map((r) => `#${r.id} ${JSON.stringify(r.lastUserText.slice(0, 60))} last: ${JSON.stringify(r.body?.messages?.at(-1)?.content).slice(0, 300)} -> ${JSON.stringify(r.response)}`).join('\n'),
      ),
    );
    const cli = spawn(process.execPath, [BIN, '--db', fx.dbPath, 'send', 'ask:crash', 'write the file', '--approvals', 'ask'], {
      cwd: fx.cwd,
      env: { ...fx.env, TETHER_LOG_LEVEL: 'silent' },
      stdio: 'ignore',
    });
    children.push(cli);
    const probe = await fx.open();
    const [pending] = await waitFor(async () => {
      const list = await probe.approvals({ status: 'pending' });
      return list.length > 0 && list;
    }, 60_000);
    await probe.close();
    const agents = agentChildren(cli.pid!);
    cli.kill('SIGKILL');
    await waitFor(() => agents.every((p) => !isRunning(p)), 10_000);

    const restarted = await fx.open({ approvals: 'ask' });
    expect(await restarted.approvals({ status: 'pending' })).toMatchObject([{ id: pending!.id, turnId: pending!.turnId }]);
    expect(existsSync(file)).toBe(false);
    await restarted.decide(pending!.id, { decision: 'allow' });
    for await (const { event } of restarted.turnEvents(pending!.turnId)) if (event.type === 'turn.completed' || event.type === 'turn.failed') break;
    const [turn] = await restarted.turns('ask:crash');
    expect(turn).toMatchObject({ status: 'succeeded', text: 'Done after the restart.', prompt: 'write the file' });
    // What the agent was told of its second call (a failure message names its cause).
    const second = toolResults(fx.mock.mainRequests().at(-1)!).at(-1)!;
    expect([second.tool_use_id, second.content]).toEqual(['toolu_x2', expect.stringContaining('File created successfully')]);
    expect(readFileSync(file, 'utf8')).toBe('hello');
    expect(fx.mock.mainRequests().at(-1)!.userTexts[0]).toBe('write the file');
  }, 180_000);

  it("the session's rules decide without a person (deny first), and are journaled as decided by rule", async () => {
    const tether = await fx.open({ approvals: 'ask' });
    mkdirSync(join(fx.cwd, 'allowed'));
    const ok = join(fx.cwd, 'allowed', 'a.txt');
    const secret = join(fx.cwd, 'allowed', 'secret.txt');
    fx.mock.enqueue(writeCall(ok, 'toolu_r1'), writeCall(secret, 'toolu_r2'), { text: 'one of two' });
    const events: string[] = [];
    tether.on('*', (e) => e.type.startsWith('approval.') && events.push(`${e.type}:${(e as ApprovalEvent).status}`));
    const options = { approvalRules: { allow: ['Write(allowed/**)'], deny: ['Write(**/secret*)'] } };
    expect((await tether.send('ask:rules', 'write both', options).result).text).toBe('one of two');
    expect(readFileSync(ok, 'utf8')).toBe('hello');
    expect(existsSync(secret)).toBe(false);
    expect((await tether.approvals()).map((a) => [a.toolUseId, a.status, a.decidedBy, a.message])).toEqual([
      ['toolu_r1', 'allowed', 'rule', "allowed by the session's rule Write(allowed/**)"],
      ['toolu_r2', 'denied', 'rule', "denied by the session's rule Write(**/secret*)"],
    ]);
    expect(events).toEqual(['approval.requested:pending', 'approval.decided:allowed', 'approval.requested:pending', 'approval.decided:denied']);
    expect((await tether.get('ask:rules'))?.config.approvalRules).toEqual(options.approvalRules);
    await expect(tether.send('ask:bad-rule', 'x', { approvalRules: { allow: ['not a rule'] } }).accepted).rejects.toMatchObject({ code: ErrorCode.INVALID_INPUT });
  });

  it('refuses bad decisions with typed errors and changes nothing', async () => {
    const tether = await fx.open({ approvals: 'ask' });
    fx.mock.enqueue(writeCall(join(fx.cwd, 'x.txt'), 'toolu_h1'), { text: 'fine' });
    const asked = nextRequest(tether);
    const handle = tether.send('ask:hostile', 'write');
    const request = await asked;
    await expect(tether.decide('no-such-id', { decision: 'allow' })).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
    await expect(tether.decide(request.id, { decision: 'allow' }, { tenant: 'someone-else' })).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
    await expect(tether.decide(request.id, { decision: 'maybe' } as never)).rejects.toMatchObject({ code: ErrorCode.INVALID_INPUT });
    await expect(tether.decide(request.id, { decision: 'deny', remember: 'session' })).rejects.toMatchObject({ code: ErrorCode.INVALID_INPUT });
    await expect(tether.decide(request.id, { decision: 'allow', answers: { q: 'a' } })).rejects.toMatchObject({ code: ErrorCode.INVALID_INPUT });
    expect(await tether.approval(request.id)).toMatchObject({ status: 'pending' });
    await tether.decide(request.id, { decision: 'allow' });
    await expect(tether.decide(request.id, { decision: 'deny' })).rejects.toMatchObject({ code: ErrorCode.ALREADY_DECIDED });
    await handle.result;
    expect(await tether.approval(request.id)).toMatchObject({ status: 'allowed' });
  });

  it('without approvals (the default), the call is refused as before and nobody is asked', async () => {
    const tether = await fx.open();
    const file = join(fx.cwd, 'default.txt');
    fx.mock.enqueue(writeCall(file, 'toolu_n1'), { text: 'refused' });
    expect((await tether.send('ask:none', 'write').result).text).toBe('refused');
    expect(existsSync(file)).toBe(false);
    expect(await tether.approvals()).toEqual([]);
    expect(agentChildren().length).toBeLessThanOrEqual(1);
  });
});

const unreachable = await postgresUnreachable();

describe.runIf(unreachable === null)('approvals across nodes on PostgreSQL (real agent)', () => {
  let fx: AgentFixture;
  const schema = `approvals_${randomBytes(4).toString('hex')}`;
  beforeEach(async () => {
    fx = await agentFixture();
  });
  afterEach(async () => {
    await fx.cleanup();
    await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  it('a decision taken on another node reaches the turn this node runs, and a later one is refused', async () => {
    const options = { approvals: 'ask' as const, databaseUrl: TEST_DATABASE_URL, databaseSchema: schema };
    const a = await fx.open(options);
    const b = await fx.open(options);
    const file = join(fx.cwd, 'two-nodes.txt');
    fx.mock.enqueue({ toolUse: { name: 'Write', input: { file_path: file, content: 'from b' }, id: 'toolu_n1' } }, { text: 'Node b said yes.' });
    // B hears of it through the shared event journal.
    const seenByB = nextRequest(b);
    const handle = a.send('nodes:1', 'write it');
    const request = await seenByB;
    expect(await b.decide(request.id, { decision: 'allow' })).toMatchObject({ status: 'allowed' });
    // The store decides who was first, whichever node is asked (the race itself is in the store suite).
    await expect(a.decide(request.id, { decision: 'deny' })).rejects.toMatchObject({ code: 'ALREADY_DECIDED' });
    expect((await handle.result).text).toBe('Node b said yes.');
    expect(readFileSync(file, 'utf8')).toBe('from b');
    // A gave its agent the decision (B's decision reached A through the store).
    await waitFor(async () => (await b.approval(request.id))?.answeredAt !== null);
    expect((await a.approval(request.id))?.status).toBe('allowed');
  });
});
