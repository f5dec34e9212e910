import { mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { connectTether } from '../../src/client/index.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { serve } from '../../src/server/serve.js';
import { BIN } from '../../test/helpers/cli-fixture.js';
import { benchFixture } from '../lib/fixture.js';
import { summarize } from '../lib/stats.js';
import { rotate } from '../lib/tether-turns.js';
import { latencyFigure, row, type Benchmark } from '../lib/types.js';

const WARMUP = 3;
const ROUNDS = 24;

/**
 * 12. Teams: a `team_ask` through the MCP tools, against the same message sent to the same pair's
 * conversation through the HTTP API (`POST /v1/sessions/team:frontend->backend/messages`): what
 * the MCP face and the teams layer add to a warm turn. Both on one daemon, one warm runner, one
 * conversation, interleaved. Diagnostic: the same ask through `tether mcp --server` on stdio (an
 * agent's --mcp-config), which adds one more process hop.
 */
export const teams: Benchmark = {
  name: 'teams',
  title: 'Teams: team_ask over MCP vs the same message over the HTTP API',
  async run(ctx) {
    const fx = await benchFixture('teams');
    const root = realpathSync(fx.dir);
    const projects = { frontend: join(root, 'frontend'), backend: join(root, 'backend') };
    for (const dir of Object.values(projects)) mkdirSync(dir, { recursive: true });
    const teamsFile = join(root, 'teams.yaml');
    writeFileSync(teamsFile, ['teams:', '  frontend:', `    path: ${projects.frontend}`, '  backend:', `    path: ${projects.backend}`, ''].join('\n'));
    const config = loadConfig({ db: join(root, 'tether.db'), port: 0, teams: teamsFile, allowedRoots: root, spares: 0, janitorIntervalSec: 0, maxLive: 2 }, fx.env);
    const daemon = await serve({ config, env: fx.env, logger: createLogger({ level: 'silent', format: 'json' }) });
    const api = connectTether({ url: daemon.url });
    const http = new Client({ name: 'bench-http', version: '1' });
    const stdio = new Client({ name: 'bench-stdio', version: '1' });
    const mcpMs: number[] = [];
    const apiMs: number[] = [];
    const stdioMs: number[] = [];
    let replies = 0;
    try {
      await http.connect(new StreamableHTTPClientTransport(new URL(`${daemon.url}/mcp?team=frontend`)));
      const env = { ...fx.env, TETHER_TEAMS: teamsFile, TETHER_ALLOWED_ROOTS: root } as Record<string, string>;
      await stdio.connect(new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp', '--team', 'frontend', '--server', daemon.url], env }));
      const ask = async (client: Client, message: string): Promise<number> => {
        const started = performance.now();
        const result = await client.callTool({ name: 'team_ask', arguments: { toTeam: 'backend', message } }, undefined, { timeout: 60_000 });
        const ms = performance.now() - started;
        const reply = (result.structuredContent as { reply?: string } | undefined)?.reply ?? '';
        if (result.isError || !reply.endsWith(message)) throw new Error(`team_ask answered ${JSON.stringify(result.content)}`);
        replies++;
        return ms;
      };
      const send = async (message: string): Promise<number> => {
        const started = performance.now();
        const result = await api.send('team:frontend->backend', message).result;
        const ms = performance.now() - started;
        if (!result.text.endsWith(message)) throw new Error(`the API answered "${result.text}"`);
        replies++;
        return ms;
      };
      for (let i = 0; i < WARMUP; i++) {
        await ask(http, `warm-up mcp ${i}`);
        await send(`warm-up api ${i}`);
        await ask(stdio, `warm-up stdio ${i}`);
      }
      await rotate(ROUNDS, [
        async (i) => void mcpMs.push(await ask(http, `mcp ${i}`)),
        async (i) => void apiMs.push(await send(`api ${i}`)),
        async (i) => void stdioMs.push(await ask(stdio, `stdio ${i}`)),
      ]);
      ctx.log(`team_ask over /mcp median ${summarize(mcpMs).median.toFixed(1)} ms, /v1 messages median ${summarize(apiMs).median.toFixed(1)} ms`);
    } finally {
      await Promise.all([http.close(), stdio.close(), api.close()].map((p) => p.catch(() => undefined)));
      await daemon.close({ graceMs: 2_000 });
      await fx.cleanup();
    }
    const m = summarize(mcpMs);
    const a = summarize(apiMs);
    const s = summarize(stdioMs);
    return {
      rows: [
        row({
          label: '12. team_ask over MCP vs the same message over /v1',
          tether: latencyFigure(m),
          baseline: latencyFigure(a),
          ratioDefinition: 'team_ask / POST /v1/…/messages (medians)',
          ratio: m.median / a.median,
          goal: { on: 'ratio', op: '<=', target: 1.15, text: '≤ 1.15×' },
        }),
        row({
          label: '12. team_ask through `tether mcp --server` (stdio) vs /v1',
          tether: latencyFigure(s),
          baseline: latencyFigure(a),
          ratioDefinition: 'stdio team_ask / POST /v1/…/messages (medians)',
          ratio: s.median / a.median,
          goal: { on: 'none', op: '<=', target: 0, text: 'for information' },
        }),
      ],
      summaries: { mcpAskMs: m, apiMessageMs: a, stdioAskMs: s },
      raw: { mcpAskMs: mcpMs, apiMessageMs: apiMs, stdioAskMs: stdioMs },
      checks: { rounds: ROUNDS, warmup: WARMUP, replies, conversation: 'team:frontend->backend, one warm runner for all three' },
      notes: [
        'All three go to one conversation on one daemon, in rotation, so each measured turn runs on the warm runner the previous one left.',
        'The /v1 side is connectTether().send(), which streams the turn as SSE, as team_ask over Streamable HTTP does.',
      ],
    };
  },
};
