import type { Command } from 'commander';
import type { Tether } from '../../broker/api.js';
import { isTetherError } from '../../errors.js';
import { mockAgentEnv, startMockAnthropic } from '../../testing/mock-anthropic.js';
import { checkGlobals, globalsOf, withTether } from '../open.js';
import { EXIT_OK, sessionLines, type CliContext, type CliIO } from '../output.js';
import { streamTurn } from '../run-turn.js';

export const DEMO_KEY = 'demo:quickstart';
export const DEMO_DB = './data/demo.db';
const PROMPTS = ['Hello! My name is Ada.', 'What can you help me with?', 'Do you still remember my name?'];

export function registerDemo(program: Command, ctx: CliContext): void {
  program
    .command('demo')
    .description(`try Tether offline: three messages to "${DEMO_KEY}", the real agent answered by a bundled mock API (no key needed)`)
    .action(async (_flags: unknown, cmd: Command) => {
      const { io } = ctx;
      const g = globalsOf(cmd);
      // The demo runs its own broker next to its own mock API: --server and TETHER_URL do not apply.
      checkGlobals(g, io, { embedded: true });
      const mock = await startMockAnthropic();
      io.stdout.write(`demo: mock Anthropic API on ${mock.url}; the real Claude Code binary talks to it offline\n`);
      io.stdout.write(`demo: database ${g.db ?? DEMO_DB}, key "${DEMO_KEY}"\n`);
      try {
        const env = { ...io.env, ...mockAgentEnv(mock) };
        // Its own database unless --db, so the demo never touches real sessions (TETHER_DB).
        ctx.exitCode = await withTether(cmd, io, (tether) => conversation(tether, io, g.tenant ?? io.env.TETHER_TENANT ?? 'default'), { defaultDb: DEMO_DB, env, embedded: true });
      } finally {
        await mock.stop();
      }
    });
}

async function conversation(tether: Tether, io: CliIO, tenant: string): Promise<number> {
  // Start from a fresh generation each run, so the replies count 1, 2, 3 again.
  await tether.reset(DEMO_KEY).catch((err: unknown) => {
    if (!isTetherError(err, 'NOT_FOUND')) throw err;
  });
  let last = '';
  for (const prompt of PROMPTS) {
    io.stdout.write(`\n> ${prompt}\n`);
    const outcome = await streamTurn(tether.send(DEMO_KEY, prompt), io, { json: false, key: DEMO_KEY, tenant });
    if (outcome.error) throw outcome.error;
    last = outcome.result?.text ?? '';
  }
  const session = await tether.get(DEMO_KEY);
  if (session) io.stdout.write(`\n$ tether show ${DEMO_KEY}\n${sessionLines(session)}\n`);
  const continued = last.includes(`Reply #${PROMPTS.length}`);
  io.stdout.write(
    continued
      ? `\nThe third reply says "Reply #${PROMPTS.length}": the API saw all ${PROMPTS.length} messages, so the third turn continued the same agent conversation.\n`
      : `\nThe third reply does not say "Reply #${PROMPTS.length}": the conversation was not continued.\n`,
  );
  return continued ? EXIT_OK : 1;
}
