import { execFile } from 'node:child_process';
import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { findBundledClaude } from '../../src/agents/claude/preflight.js';
import { connectTether } from '../../src/client/index.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { serve } from '../../src/server/serve.js';
import type { RecordedRequest } from '../../src/testing/mock-anthropic.js';
import { agentFixture, type AgentFixture } from '../helpers/agent-fixture.js';
import { BIN, BUILT } from '../helpers/cli-fixture.js';
import { processesWithEnv } from '../helpers/processes.js';
import { waitFor } from '../helpers/wait.js';
import { teamsRouter } from './router.js';

const run = promisify(execFile);

/*
 * The real agent on both ends: a person's Claude Code in the frontend project, given `tether mcp
 * --team frontend` in its --mcp-config, asks the backend team; Tether runs the backend's Claude
 * Code in the backend project, and its reply comes back as the person's tool result. Each
 * `claude -p` starts its own `tether mcp` (embedded on one database): so every ask below also
 * crosses a restart of Tether.
 */
describe.skipIf(!BUILT)('teams over MCP (stdio), real Claude Code on both ends', () => {
  let fx: AgentFixture;
  let projects: { frontend: string; backend: string; person: string };
  let mcpConfig: string;
  let teamsEntry: string;

  beforeAll(async () => {
    fx = await agentFixture();
    const root = realpathSync(fx.dir);
    projects = { frontend: join(root, 'projects', 'frontend'), backend: join(root, 'projects', 'backend'), person: join(root, 'projects', 'person') };
    for (const dir of Object.values(projects)) mkdirSync(dir, { recursive: true });
    const teamsFile = join(root, 'teams.yaml');
    teamsEntry = `TETHER_TEAMS=${teamsFile}`;
    writeFileSync(
      teamsFile,
      [
        '# the teams of this test',
        'teams:',
        '  frontend:',
        `    path: ${projects.frontend}`,
        '    description: the web UI',
        '    appendSystemPrompt: TEAM=frontend',
        '  backend:',
        `    path: ${projects.backend}`,
        '    description: the API server',
        '    appendSystemPrompt: TEAM=backend',
        '',
      ].join('\n'),
    );
    mcpConfig = join(root, 'mcp.json');
    writeFileSync(
      mcpConfig,
      JSON.stringify({
        mcpServers: {
          tether: {
            command: process.execPath,
            args: [BIN, 'mcp', '--team', 'frontend', '--db', fx.dbPath],
            env: { ...fx.env, TETHER_TEAMS: teamsFile, TETHER_ALLOWED_ROOTS: root },
          },
        },
      }),
    );
    fx.mock.setDefault(teamsRouter());
  }, 60_000);

  afterAll(async () => fx?.cleanup());

  /** The person's Claude Code, one prompt, with Tether's MCP server: its final text. */
  async function person(prompt: string): Promise<string> {
    const { stdout } = await run(
      findBundledClaude()!,
      ['-p', prompt, '--mcp-config', mcpConfig, '--strict-mcp-config', '--allowedTools', 'mcp__tether', '--output-format', 'json'],
      { cwd: projects.person, env: fx.env, timeout: 120_000 },
    );
    return (JSON.parse(stdout) as { result: string }).result;
  }

  const backendRequests = (): RecordedRequest[] => fx.mock.mainRequests().filter((r) => JSON.stringify(r.body.system ?? '').includes('TEAM=backend'));

  it("asks the backend team: its agent answers in its own project, and the reply is the person's tool result", async () => {
    const text = await person('ASK backend: What port does the API listen on?');
    expect(text).toBe('person heard: backend answers "What port does the API listen on?" (message 1)');

    const asked = backendRequests();
    expect(asked).toHaveLength(1);
    // The backend agent ran in the backend project, with the backend's settings.
    expect(JSON.stringify(asked[0]!.body)).toContain(projects.backend);
    // The person's next request carried the backend's reply as the tool result.
    const personFollowUp = fx.mock.mainRequests().find((r) => JSON.stringify(r.body.messages).includes('tool_result') && !JSON.stringify(r.body.system ?? '').includes('TEAM='));
    expect(JSON.stringify(personFollowUp!.body.messages)).toContain('backend answers');
    // The person's Claude Code has exited: its `tether mcp` and the backend agent it ran end too.
    await waitFor(() => processesWithEnv(teamsEntry).length === 0, 20_000);
  }, 180_000);

  it("a second ask, from a new Tether process, continues the backend's conversation", async () => {
    const text = await person('ASK backend: And which database?');
    expect(text).toBe('person heard: backend answers "And which database?" (message 2)');
    const last = backendRequests().at(-1)!;
    expect(last.userTexts).toEqual(['What port does the API listen on?', 'And which database?']);

    const tether = await fx.open();
    const session = await tether.get('team:frontend->backend');
    expect(session).toMatchObject({ turns: 2, labels: { team: 'backend', fromTeam: 'frontend' }, config: { cwd: projects.backend, appendSystemPrompt: 'TEAM=backend' } });
    // The reverse direction is a conversation of its own, not started by these asks.
    expect(await tether.get('team:backend->frontend')).toBeNull();
    await tether.close();
  }, 180_000);

  it('an ask that would wait on itself is refused with ASK_LOOP, and the chain still answers', async () => {
    // frontend (the person) asks backend; backend's agent asks frontend (a Tether-run frontend
    // agent); that agent asks backend back, whose conversation is busy waiting on it: refused.
    const text = await person('ASK backend: LOOP how do we deploy?');
    expect(text).toMatch(/^person heard: backend heard: frontend heard: .*ASK_LOOP/s);
    const frontendAgent = fx.mock.mainRequests().filter((r) => JSON.stringify(r.body.system ?? '').includes('TEAM=frontend'));
    expect(JSON.stringify(frontendAgent[0]!.body)).toContain(projects.frontend);
  }, 240_000);

  it('with --server, the daemon runs the teams: the SDK client over stdio asks a Codex team', async () => {
    const root = realpathSync(fx.dir);
    const teamsFile = join(root, 'server-teams.yaml');
    writeFileSync(teamsFile, ['teams:', '  frontend:', `    path: ${projects.frontend}`, '  qa:', `    path: ${projects.backend}`, '    backend: codex', ''].join('\n'));
    const config = loadConfig({ db: join(root, 'daemon.db'), port: 0, teams: teamsFile, allowedRoots: root, spares: 0 }, fx.env);
    const daemon = await serve({ config, env: fx.env, logger: createLogger({ level: 'silent', format: 'json' }) });
    const client = new Client({ name: 'stdio-test', version: '1.0.0' });
    try {
      const env = { ...fx.env, TETHER_TEAMS: teamsFile, TETHER_ALLOWED_ROOTS: root } as Record<string, string>;
      await client.connect(new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp', '--team', 'frontend', '--server', daemon.url], env, stderr: 'pipe' }));
      const answer = await client.callTool({ name: 'team_ask', arguments: { toTeam: 'qa', message: 'Are the tests green?' } }, undefined, { timeout: 120_000 });
      expect(answer.isError, JSON.stringify(answer.content)).toBeFalsy();
      expect(answer.structuredContent).toMatchObject({ status: 'completed', key: 'team:frontend->qa', reply: expect.stringContaining('Are the tests green?') });
      // The daemon ran it, on Codex, in the qa project; the MCP process holds no store.
      const remote = connectTether({ url: daemon.url });
      expect(await remote.get('team:frontend->qa')).toMatchObject({ backend: 'codex', turns: 1, config: { cwd: projects.backend } });
      await remote.close();
    } finally {
      await client.close();
      await daemon.close({ graceMs: 2_000 });
    }
  }, 180_000);
});
