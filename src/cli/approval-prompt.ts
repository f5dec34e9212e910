import type { ApprovalDecisionInput } from '../broker/api.js';
import type { ApprovalEvent, TetherEvent } from '../domain/events.js';
import { isTetherError } from '../errors.js';
import type { CliIO } from './output.js';

type Decide = (id: string, decision: ApprovalDecisionInput) => Promise<unknown>;

interface Question {
  question: string;
  options: Array<{ label: string }>;
}

/**
 * What `tether send` does with the approvals of its turn: on a terminal it asks the person there
 * (y / n / always, or a question's answers); otherwise it says on stderr how to decide. A
 * decision taken elsewhere first (another terminal, the API) withdraws the question.
 */
export class ApprovalPrompter {
  readonly #io: CliIO;
  readonly #decide: Decide;
  readonly #open = new Map<string, AbortController>();

  constructor(io: CliIO, decide: Decide) {
    this.#io = io;
    this.#decide = decide;
  }

  onEvent(event: TetherEvent): void {
    if (event.type === 'approval.requested') this.#requested(event);
    else if (event.type === 'approval.decided') this.#decided(event);
  }

  /** The turn is over: questions still open are withdrawn. */
  close(): void {
    for (const controller of this.#open.values()) controller.abort();
    this.#open.clear();
  }

  #requested(approval: ApprovalEvent): void {
    const io = this.#io;
    const what = approval.title ?? `${approval.tool} ${JSON.stringify(approval.input)}`;
    if (!io.ask) {
      io.stderr.write(
        `tether: the agent asks: ${what}\n` +
          `  approval ${approval.id} waits for a decision: tether approve ${approval.id} [--remember] · tether deny ${approval.id} [--message TEXT]\n`,
      );
      return;
    }
    const controller = new AbortController();
    this.#open.set(approval.id, controller);
    const ask = approval.kind === 'question' ? this.#answers(approval, controller.signal) : this.#allowOrDeny(what, controller.signal);
    ask
      .then((decision) => this.#decide(approval.id, decision))
      .catch((err: unknown) => {
        if (controller.signal.aborted) return;
        io.stderr.write(`tether: approval ${approval.id}: ${isTetherError(err) ? err.message : String(err)}\n`);
      })
      .finally(() => this.#open.delete(approval.id));
  }

  #decided(approval: ApprovalEvent): void {
    const open = this.#open.get(approval.id);
    if (!open) return;
    // Decided elsewhere while the question was on the screen.
    open.abort();
    this.#open.delete(approval.id);
    this.#io.stderr.write(`\ntether: approval ${approval.id} was ${approval.status} (${approval.decidedBy ?? 'elsewhere'})\n`);
  }

  async #allowOrDeny(what: string, signal: AbortSignal): Promise<ApprovalDecisionInput> {
    for (;;) {
      const answer = (await this.#io.ask!(`The agent asks: ${what}\nAllow? [y]es / [n]o / [a]lways for this session: `, signal)).trim().toLowerCase();
      if (answer === 'y' || answer === 'yes') return { decision: 'allow' };
      if (answer === 'a' || answer === 'always') return { decision: 'allow', remember: 'session' };
      if (answer === 'n' || answer === 'no') {
        const why = (await this.#io.ask!('Tell the agent why (optional): ', signal)).trim();
        return { decision: 'deny', ...(why ? { message: why } : {}) };
      }
    }
  }

  /** One answer per question: an option's number picks its label; anything else is the answer as typed. */
  async #answers(approval: ApprovalEvent, signal: AbortSignal): Promise<ApprovalDecisionInput> {
    const questions = questionsOf(approval.input);
    const answers: Record<string, string> = {};
    for (const q of questions) {
      const choices = q.options.map((o, i) => `  ${i + 1}. ${o.label}`).join('\n');
      let answer = '';
      while (answer === '') answer = (await this.#io.ask!(`The agent asks: ${q.question}\n${choices}${choices ? '\n' : ''}Your answer: `, signal)).trim();
      const picked = /^\d+$/.test(answer) ? q.options[Number(answer) - 1]?.label : undefined;
      answers[q.question] = picked ?? answer;
    }
    return { decision: 'allow', answers };
  }
}

/** The questions of an AskUserQuestion call, as far as they can be read. */
function questionsOf(input: Record<string, unknown>): Question[] {
  const list = Array.isArray(input.questions) ? input.questions : [];
  return list.flatMap((q: unknown) => {
    if (typeof q !== 'object' || q === null || typeof (q as { question?: unknown }).question !== 'string') return [];
    const options = Array.isArray((q as { options?: unknown }).options) ? (q as { options: unknown[] }).options : [];
    return [
      {
        question: (q as { question: string }).question,
        options: options.flatMap((o) => (typeof o === 'object' && o !== null && typeof (o as { label?: unknown }).label === 'string' ? [{ label: (o as { label: string }).label }] : [])),
      },
    ];
  });
}
