import type { Command } from 'commander';
import type { ApprovalDecisionInput, Tether, TurnHandle } from '../broker/api.js';
import { ApprovalPrompter } from './approval-prompt.js';
import { isTerminalTurnEvent, type TetherEvent, type TurnFailedEvent, type TurnResult } from '../domain/events.js';
import { toTetherError, type TetherError } from '../errors.js';
import { globalsOf, withTether } from './open.js';
import { EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM, printError, printLine, type CliIO, type Writer } from './output.js';
import { onStopSignals } from './signals.js';

/**
 * Starts a turn (`send`, `regenerate`, `continue`), prints it as it runs, and returns the exit
 * code: the first SIGINT/SIGTERM interrupts the turn, which is then waited for (130 or 143);
 * otherwise 0, or the code of the error the turn ended with (printed on stderr).
 */
export async function runTurn(cmd: Command, io: CliIO, key: string, json: boolean, start: (tether: Tether) => TurnHandle): Promise<number> {
  const g = globalsOf(cmd);
  const tenant = g.tenant ?? io.env.TETHER_TENANT ?? 'default';
  return withTether(cmd, io, async (tether) => {
    const handle = start(tether);
    let stoppedBy: NodeJS.Signals | null = null;
    const stopListening = onStopSignals(io, (signal) => {
      stoppedBy = signal;
      io.stderr.write(`interrupting the turn (${signal}); press Ctrl-C again to quit at once\n`);
      handle.interrupt();
    });
    let outcome: TurnOutcome;
    try {
      outcome = await streamTurn(handle, io, { json, key, tenant, decide: (id, decision) => tether.decide(id, decision) });
    } finally {
      stopListening();
    }
    const signal: NodeJS.Signals | null = stoppedBy;
    if (outcome.error) {
      const code = printError(io, outcome.error);
      return signal === null ? code : exitOfSignal(signal);
    }
    return signal === null ? EXIT_OK : exitOfSignal(signal);
  });
}

const exitOfSignal = (signal: NodeJS.Signals): number => (signal === 'SIGTERM' ? EXIT_SIGTERM : EXIT_SIGINT);

export interface TurnOutcome {
  result: TurnResult | null;
  error: TetherError | null;
}

/**
 * Prints a turn while it runs — reply text as it streams, or one TetherEvent per line — and
 * returns how it ended. With `json`, the last line is always turn.completed or turn.failed, even
 * when the turn was refused before the broker emitted anything.
 */
export async function streamTurn(
  handle: TurnHandle,
  io: CliIO,
  options: { json: boolean; key: string; tenant: string; decide?: (id: string, decision: ApprovalDecisionInput) => Promise<unknown> },
): Promise<TurnOutcome> {
  // Both reject when the turn fails; the outcome below reports it, so nothing is left unhandled.
  handle.accepted.catch(() => undefined);
  handle.result.catch(() => undefined);

  const text = new ReplyPrinter(io.stdout);
  // With --json the approval events are on stdout for a program to act on; a person is asked otherwise.
  const approvals = !options.json && options.decide ? new ApprovalPrompter(io, options.decide) : null;
  let terminalPrinted = false;
  let tenant = options.tenant;
  try {
    for await (const event of handle) {
      tenant = event.tenant;
      if (options.json) printLine(io.stdout, event);
      else text.onEvent(event);
      approvals?.onEvent(event);
      if (!options.json && event.type === 'session.recovered') {
        io.stderr.write(`tether: the agent's conversation for "${event.key}" was lost (${event.reason ?? 'unknown reason'}); continuing in a new one that opens with a recap\n`);
      }
      if (isTerminalTurnEvent(event)) terminalPrinted = true;
    }
  } catch {
    // The same failure rejects `result`, which is where it is read from.
  } finally {
    approvals?.close();
  }

  let outcome: TurnOutcome;
  try {
    outcome = { result: await handle.result, error: null };
  } catch (err) {
    outcome = { result: null, error: toTetherError(err) };
  }

  if (options.json) {
    if (!terminalPrinted) printLine(io.stdout, outcome.result ?? (await failedEvent(handle, outcome.error, options.key, tenant)));
  } else {
    text.finish(outcome.result?.text ?? null);
  }
  return outcome;
}

async function failedEvent(handle: TurnHandle, error: TetherError | null, key: string, tenant: string): Promise<TurnFailedEvent> {
  const accepted = await handle.accepted.catch(() => null);
  const e = error ?? toTetherError(new Error('the turn ended without a result'));
  return {
    type: 'turn.failed',
    tenant,
    key,
    at: new Date().toISOString(),
    // A turn refused before it was journaled has no id.
    turnId: accepted?.turnId ?? '',
    ...(accepted ? { sessionId: accepted.sessionId } : {}),
    error: { code: e.code, message: e.message },
  };
}

/**
 * Writes reply text as deltas arrive. Separate assistant messages of one turn (before and after a
 * tool call) are put on separate lines; the output always ends with a newline.
 */
class ReplyPrinter {
  #out: Writer;
  #wroteDelta = false;
  #breakPending = false;
  #last = '\n';
  #wroteAny = false;

  constructor(out: Writer) {
    this.#out = out;
  }

  onEvent(event: TetherEvent): void {
    if (event.type === 'text.delta') {
      if (event.text === '') return;
      if (this.#breakPending && this.#last !== '\n') this.#write('\n');
      this.#breakPending = false;
      this.#wroteDelta = true;
      this.#write(event.text);
    } else if (event.type === 'message' && this.#wroteDelta) {
      this.#breakPending = true;
    }
  }

  /** `finalText`: the turn's reply, printed only when nothing streamed (an agent without deltas). */
  finish(finalText: string | null): void {
    if (!this.#wroteDelta && finalText) this.#write(finalText);
    if (this.#wroteAny && this.#last !== '\n') this.#write('\n');
  }

  #write(s: string): void {
    this.#out.write(s);
    this.#last = s.at(-1) ?? this.#last;
    this.#wroteAny = true;
  }
}
