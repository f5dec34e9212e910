import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { serve, type RunningServer } from '../../src/server/serve.js';
import { TEAM_TOOLS } from '../../src/mcp/tools.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';
import { waitFor } from '../helpers/wait.js';
import { teamsRouter } from './router.js';

const TOKEN = 'acme-token-0123456789';
const OTHER_TOKEN = 'other-token-0123456789';

/*
 * `/mcp` on a daemon, tested with the MCP SDK's own client over Streamable HTTP, the real Claude
 * Code answering as the teams; and a remote team: a second Tether reaching this daemon's teams
 * over its HTTP API with its token.
 */
describe('teams over MCP (Streamable HTTP) and remote teams', () => {
  let fx: AgentFixture;
  let daemon: RunningServer;
  let projects: Record<'frontend' | 'backend' | 'ops', string>;
  let teamsFile: string;
  let teamsDoc: { teams: Record<string, Record<string, unknown>> };
  const clients: Client[] = [];
  const logs: string[] = [];

  beforeAll(async () => {
    fx = await agentFixture();
    const root = realpathSync(fx.dir);
    projects = { frontend: join(root, 'frontend'), backend: join(root, 'backend'), ops: join(root, 'ops') };
    for (const dir of Object.values(projects)) mkdirSync(dir, { recursive: true });
    teamsFile = join(root, 'teams.json');
    teamsDoc = {
      teams: {
        frontend: { path: projects.frontend, description: 'the web UI', appendSystemPrompt: 'TEAM=frontend' },
        backend: { path: projects.backend, description: 'the API server', appendSystemPrompt: 'TEAM=backend' },
        ops: { path: projects.ops, description: 'deployments', appendSystemPrompt: 'TEAM=ops', approvals: 'ask' },
      },
    };
    writeFileSync(teamsFile, JSON.stringify(teamsDoc));
    fx.mock.setDefault(teamsRouter());
    const config = loadConfig(
      { db: join(root, 'daemon.db'), port: 0, tokens: `${TOKEN}=acme,${OTHER_TOKEN}=other`, teams: teamsFile, allowedRoots: root, spares: 0, defaultCwd: fx.cwd },
      fx.env,
    );
    daemon = await serve({ config, env: fx.env, logger: createLogger({ level: 'info', format: 'json', sink: { write: (line) => void logs.push(line) } }) });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await daemon?.close({ graceMs: 2_000 });
    await fx?.cleanup();
  });

  async function connect(query = '?team=frontend', options: { elicit?: (message: string) => Record<string, unknown> | null } = {}): Promise<Client> {
    const client = new Client({ name: 'teams-test', version: '1.0.0' }, { capabilities: options.elicit ? { elicitation: { form: {} } } : {} });
    if (options.elicit) {
      const elicit = options.elicit;
      client.setRequestHandler(ElicitRequestSchema, async (request) => {
        const content = elicit(request.params.message);
        return content ? { action: 'accept', content: content as Record<string, string | boolean> } : { action: 'cancel' };
      });
    }
    const transport = new StreamableHTTPClientTransport(new URL(`${daemon.url}/mcp${query}`), { requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } } });
    await client.connect(transport);
    clients.push(client);
    return client;
  }

  const text = (result: unknown): string => ((result as CallToolResult).content[0] as { text: string }).text;

  it('refuses /mcp without a token (401), like /v1', async () => {
    const res = await fetch(`${daemon.url}/mcp?team=frontend`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }),
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
  });

  it('lists the ten tools with their schemas, and answers team_ask with the asked agent’s reply, with progress', async () => {
    const client = await connect();
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(Object.keys(TEAM_TOOLS).sort());
    const ask = tools.find((t) => t.name === 'team_ask')!;
    expect(ask.inputSchema).toMatchObject({ type: 'object', required: expect.arrayContaining(['toTeam', 'message']) });
    expect(ask.outputSchema).toMatchObject({ type: 'object' });

    const progress: string[] = [];
    const answer = await client.callTool({ name: 'team_ask', arguments: { toTeam: 'backend', message: 'What port?' } }, undefined, {
      onprogress: (p) => void progress.push(p.message ?? ''),
      timeout: 120_000,
    });
    expect(answer.isError).toBeFalsy();
    expect(text(answer)).toBe('backend answers "What port?" (message 1)');
    expect(answer.structuredContent).toMatchObject({ status: 'completed', key: 'team:frontend->backend', turnId: expect.any(String) });
    expect(progress).toContain('backend: working');

    const listed = await client.callTool({ name: 'team_list', arguments: {} });
    expect((listed.structuredContent as { teams: Array<{ name: string; conversation: unknown }> }).teams).toEqual([
      expect.objectContaining({ name: 'backend', conversation: { exists: true, busy: false, queued: 0, awake: true } }),
      expect.objectContaining({ name: 'ops', conversation: { exists: false, busy: false, queued: 0, awake: false } }),
    ]);
    const status = await client.callTool({ name: 'team_status', arguments: { toTeam: 'backend' } });
    expect(status.structuredContent).toMatchObject({ key: 'team:frontend->backend', busy: false, queued: 0, session: { turns: 1, tenant: 'acme' } });
    const history = await client.callTool({ name: 'team_history', arguments: { toTeam: 'backend' } });
    expect(history.structuredContent).toMatchObject({ turns: [{ message: 'What port?', reply: 'backend answers "What port?" (message 1)', status: 'succeeded' }] });
  }, 180_000);

  it('team_tell returns a turn id whose reply team_result reads; wake, sleep, compact and reset manage the pair', async () => {
    const client = await connect();
    const told = await client.callTool({ name: 'team_tell', arguments: { toTeam: 'backend', message: 'Deploy at noon.' } });
    const { turnId } = told.structuredContent as { turnId: string };
    const result = await waitFor(
      async () => {
        const r = await client.callTool({ name: 'team_result', arguments: { turnId } });
        return (r.structuredContent as { status: string }).status === 'succeeded' ? r : null;
      },
      120_000,
      200,
    );
    expect(text(result)).toBe('backend answers "Deploy at noon." (message 2)');

    const slept = await client.callTool({ name: 'team_sleep', arguments: { toTeam: 'backend' } });
    expect(slept.structuredContent).toEqual({ slept: true });
    const woken = await client.callTool({ name: 'team_wake', arguments: { toTeam: 'backend' } });
    expect(woken.structuredContent).toMatchObject({ status: 'woken', pid: expect.any(Number) });
    const compacted = await client.callTool({ name: 'team_compact', arguments: { toTeam: 'backend' } }, undefined, { timeout: 120_000 });
    expect(compacted.isError, text(compacted)).toBeFalsy();
    const reset = await client.callTool({ name: 'team_reset', arguments: { toTeam: 'backend' } });
    expect(reset.structuredContent).toMatchObject({ key: 'team:frontend->backend' });
    const after = await client.callTool({ name: 'team_status', arguments: { toTeam: 'backend' } });
    // The closed generation may still be shown; the next message starts a new one.
    expect([null, 'closed']).toContain((after.structuredContent as { session: { status: string } | null }).session?.status ?? null);
  }, 240_000);

  it('bad arguments and unknown teams are tool errors with a stable code; a connection without a team must name one', async () => {
    const client = await connect();
    const badName = await client.callTool({ name: 'team_ask', arguments: { toTeam: '../etc', message: 'x' } });
    expect(badName.isError).toBe(true);
    expect(text(badName)).toMatch(/toTeam/);
    const unknown = await client.callTool({ name: 'team_status', arguments: { toTeam: 'nobody' } });
    expect(unknown).toMatchObject({ isError: true, _meta: { tether: { code: 'NOT_FOUND' } } });
    expect(text(unknown)).toContain('no team "nobody"');
    const self = await client.callTool({ name: 'team_ask', arguments: { toTeam: 'frontend', message: 'hi me' } });
    expect(text(self)).toMatch(/^INVALID_INPUT: team "frontend" cannot talk to itself/);
    const foreign = await client.callTool({ name: 'team_result', arguments: { turnId: 'no-such-turn' } });
    expect(foreign).toMatchObject({ isError: true, _meta: { tether: { code: 'NOT_FOUND' } } });

    const anonymous = await connect('');
    const refused = await anonymous.callTool({ name: 'team_list', arguments: {} });
    expect(text(refused)).toMatch(/^INVALID_INPUT: fromTeam: this connection names no team/);
    const named = await anonymous.callTool({ name: 'team_list', arguments: { fromTeam: 'backend' } });
    expect(named.isError).toBeFalsy();
    await expect(connect('?team=nobody')).rejects.toThrow();
  }, 60_000);

  it('answers with the turn id when the reply takes longer than timeoutSec; team_result reads it later', async () => {
    const client = await connect();
    // The backend's model answers after 3 s; the ask waits 1 s.
    fx.mock.enqueue({ text: 'a slow answer', delayMs: 3_000 });
    const answer = await client.callTool({ name: 'team_ask', arguments: { toTeam: 'backend', message: 'Take your time', timeoutSec: 1 } }, undefined, { timeout: 60_000 });
    expect(answer.structuredContent).toMatchObject({ status: 'pending', turnId: expect.any(String) });
    expect(text(answer)).toMatch(/has not answered yet; its reply will be turn \S+ \(read it with team_result\)/);
    const { turnId } = answer.structuredContent as { turnId: string };
    const later = await waitFor(
      async () => {
        const r = await client.callTool({ name: 'team_result', arguments: { turnId } });
        return (r.structuredContent as { status: string }).status === 'succeeded' ? r : null;
      },
      60_000,
      100,
    );
    expect(text(later)).toBe('a slow answer');
  }, 120_000);

  it("keeps a tenant's MCP sessions to its own token", async () => {
    const client = await connect();
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId!;
    const call = (token: string) =>
      fetch(`${daemon.url}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18', 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/list' }),
      });
    const foreign = await call(OTHER_TOKEN);
    expect(foreign.status).toBe(404);
    expect(await foreign.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    const own = await call(TOKEN);
    expect(own.status).toBe(200);
    await own.body?.cancel();
  });

  it("puts an approval of the asked team's turn to the asking person (elicitation), and applies the decision", async () => {
    const asked: string[] = [];
    const client = await connect('?team=frontend', {
      elicit: (message) => {
        asked.push(message);
        return { decision: 'allow' };
      },
    });
    const target = join(projects.ops, 'note.txt');
    const answer = await client.callTool({ name: 'team_ask', arguments: { toTeam: 'ops', message: `WRITE ${target}` } }, undefined, { timeout: 120_000 });
    expect(answer.isError, text(answer)).toBeFalsy();
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatch(/^Team "ops" asks to use Write:/);
    expect(readFileSync(target, 'utf8')).toBe('written by ops\n');
    expect(text(answer)).toMatch(/^ops heard: /);
  }, 180_000);

  it('follows edits of the teams file: a new team appears, a bad edit keeps the last good teams', async () => {
    const client = await connect();
    const names = async (): Promise<string[]> =>
      ((await client.callTool({ name: 'team_list', arguments: {} })).structuredContent as { teams: Array<{ name: string }> }).teams.map((t) => t.name);
    const docs = join(realpathSync(fx.dir), 'docs');
    mkdirSync(docs, { recursive: true });
    // Written the way editors save: a new file renamed over the old one.
    writeFileSync(`${teamsFile}.tmp`, JSON.stringify({ teams: { ...teamsDoc.teams, docs: { path: docs, description: 'the handbook' } } }));
    renameSync(`${teamsFile}.tmp`, teamsFile);
    await waitFor(async () => (await names()).includes('docs'), 10_000, 50);

    const refusals = (): number => logs.filter((line) => line.includes('the teams file was not reloaded')).length;
    writeFileSync(teamsFile, JSON.stringify({ teams: { ...teamsDoc.teams, 'Bad Name': { path: '/nowhere' } } }));
    await waitFor(() => refusals() > 0, 10_000, 20);
    expect(await names()).toEqual(['backend', 'docs', 'ops']);
    // SIGHUP reloads at once (the same refusal: the file is still bad).
    const before = refusals();
    process.kill(process.pid, 'SIGHUP');
    await waitFor(() => refusals() > before, 10_000, 20);
    expect(logs.some((line) => line.includes('SIGHUP: reloading the teams file'))).toBe(true);
    expect(await names()).toEqual(['backend', 'docs', 'ops']);
    writeFileSync(teamsFile, JSON.stringify(teamsDoc));
    await waitFor(async () => !(await names()).includes('docs'), 10_000, 50);
  }, 60_000);

  it('a remote team is reached over the daemon’s HTTP API with its token, and runs there in its own project', async () => {
    const root = realpathSync(fx.dir);
    const localTeams = join(root, 'local-teams.yaml');
    writeFileSync(
      localTeams,
      [
        'teams:',
        '  web:',
        `    path: ${projects.frontend}`,
        '  backend:',
        '    description: served by the other daemon',
        '    remote:',
        `      url: ${daemon.url}`,
        `      token: ${TOKEN}`,
        '',
      ].join('\n'),
    );
    const local = await fx.open({ teams: localTeams, allowedRoots: root, db: join(root, 'local.db') });
    const service = local.teams!;
    const outcome = await service.ask({ fromTeam: 'web' }, 'backend', 'Hello from afar');
    expect(outcome).toMatchObject({ status: 'completed', reply: 'backend answers "Hello from afar" (message 1)', key: 'team:web->backend' });
    const status = await service.status({ fromTeam: 'web' }, 'backend');
    expect(status).toMatchObject({ remote: daemon.url, session: { tenant: 'acme', turns: 1, config: { cwd: projects.backend } } });
    // Nothing of it is in the local store: the remote daemon keeps the conversation.
    expect(await local.get('team:web->backend')).toBeNull();
    expect(existsSync(join(projects.backend, 'note.txt'))).toBe(false);
  }, 180_000);
});
