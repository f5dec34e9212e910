import type { Command } from 'commander';
import { Option } from 'commander';
import type { ApprovalDecisionInput } from '../../broker/api.js';
import { APPROVAL_STATUSES, type ApprovalRecord } from '../../domain/approvals.js';
import { approvalToJSON } from '../../domain/json.js';
import { validateKey } from '../../domain/keys.js';
import { invalidInput } from '../../errors.js';
import { checkGlobals, globalsOf, withTether } from '../open.js';
import { ago, EXIT_OK, printJSON, table, truncate, type CliContext } from '../output.js';
import { intOption } from './options.js';

/** What an approval is about, in a few words: its title, else the tool and its input. */
export function approvalSummary(a: ApprovalRecord): string {
  return a.title ?? `${a.tool} ${JSON.stringify(a.input)}`;
}

/** `tether approvals`, `tether approve <id>`, `tether deny <id>`. */
export function registerApprovals(program: Command, ctx: CliContext): void {
  program
    .command('approvals')
    .description('list the tool calls and questions agents wait on a person for (sessions with --approvals ask), oldest first')
    .addOption(new Option('--status <status>', 'only these (default: pending)').choices([...APPROVAL_STATUSES, 'all']))
    .option('--key <key>', 'only those of this key')
    .option('--limit <n>', 'at most this many', intOption(1, 100_000))
    .option('--json', 'print an array of Approval JSON')
    .action(async (flags: { status?: string; key?: string; limit?: number; json?: boolean }, cmd: Command) => {
      const { io } = ctx;
      checkGlobals(globalsOf(cmd), io);
      if (flags.key !== undefined) validateKey(flags.key);
      const status = flags.status ?? 'pending';
      const list = await withTether(cmd, io, (tether) =>
        tether.approvals({
          ...(status !== 'all' ? { status: status as ApprovalRecord['status'] } : {}),
          ...(flags.key !== undefined ? { key: flags.key } : {}),
          ...(flags.limit !== undefined ? { limit: flags.limit } : {}),
        }),
      );
      if (flags.json) printJSON(io.stdout, list.map(approvalToJSON));
      else if (list.length === 0) io.stdout.write(status === 'pending' ? 'nothing waits for a decision\n' : 'no approvals\n');
      else {
        const rows = list.map((a) => [a.id, a.status, a.key, a.kind, truncate(approvalSummary(a), 60), ago(a.requestedAt)]);
        io.stdout.write(`${table(['ID', 'STATUS', 'KEY', 'KIND', 'ASKS', 'ASKED'], rows)}\n`);
      }
      ctx.exitCode = EXIT_OK;
    });

  program
    .command('approve')
    .description('allow a pending tool call (or answer a question: --answer); the turn waiting on it goes on')
    .argument('<id>', 'approval id (from `tether approvals` or an approval.requested event)')
    .option('--remember', 'allow calls like this for the rest of the session (as the agent suggested)')
    .option('--message <text>', 'a note for the agent')
    .option('--answer <question=answer>', "a question's answer; repeat for several questions", (v: string, prev: string[] = []) => [...prev, v])
    .option('--json', 'print the decided approval as JSON')
    .action(async (id: string, flags: { remember?: boolean; message?: string; answer?: string[]; json?: boolean }, cmd: Command) => {
      const decision: ApprovalDecisionInput = {
        decision: 'allow',
        ...(flags.remember ? { remember: 'session' as const } : {}),
        ...(flags.message !== undefined ? { message: flags.message } : {}),
        ...(flags.answer ? { answers: answersOf(flags.answer) } : {}),
      };
      await decide(ctx, cmd, id, decision, flags.json === true);
    });

  program
    .command('deny')
    .description('refuse a pending tool call; the agent is told (with --message) and goes on')
    .argument('<id>', 'approval id')
    .option('--message <text>', 'why, for the agent')
    .option('--json', 'print the decided approval as JSON')
    .action(async (id: string, flags: { message?: string; json?: boolean }, cmd: Command) => {
      await decide(ctx, cmd, id, { decision: 'deny', ...(flags.message !== undefined ? { message: flags.message } : {}) }, flags.json === true);
    });
}

async function decide(ctx: CliContext, cmd: Command, id: string, decision: ApprovalDecisionInput, json: boolean): Promise<void> {
  const { io } = ctx;
  checkGlobals(globalsOf(cmd), io);
  const decided = await withTether(cmd, io, (tether) => tether.decide(id, decision));
  if (json) printJSON(io.stdout, approvalToJSON(decided));
  else io.stdout.write(`${decided.status} ${decided.tool} for ${JSON.stringify(decided.key)}${decided.remember ? ' (remembered for the session)' : ''}\n`);
  ctx.exitCode = EXIT_OK;
}

/** `question=answer` pairs, split at the first `=` (an answer may hold one; a question seldom does). */
function answersOf(pairs: string[]): Record<string, string> {
  const answers = new Map<string, string>();
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw invalidInput(`--answer ${JSON.stringify(pair)} must be question=answer`);
    answers.set(pair.slice(0, at), pair.slice(at + 1));
  }
  return Object.fromEntries(answers);
}
