/**
 * Approvals: a tool call (or a question) the agent asks a person about. Journaled before anyone
 * is told, decided once (by a person, a rule, the timeout, or an interrupt), kept for history.
 * Pure data and rules; times are epoch milliseconds.
 */

export const APPROVAL_STATUSES = ['pending', 'allowed', 'denied', 'expired'] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

/** `tool`: may this tool call run? `question`: the agent asks the user (AskUserQuestion); the decision carries answers. */
export type ApprovalKind = 'tool' | 'question';

/** Who decided: a person (through the API, CLI or library), a session rule, the timeout, an interrupt. */
export type ApprovalDecider = 'person' | 'rule' | 'timeout' | 'interrupt';

/** The only thing a person can ask to remember: allow this tool (as the agent suggested) for the rest of the session. */
export type ApprovalRemember = 'session';

/** What a turn asks; the store adds the ids, status and times. */
export interface ApprovalRequest {
  kind: ApprovalKind;
  /** The agent's id of the tool call; one approval per call of a turn. */
  toolUseId: string;
  tool: string;
  input: Record<string, unknown>;
  /** The sentence the agent would show a person ("Claude wants to write foo.txt"), when it gave one. */
  title: string | null;
  /** The agent's rule suggestions for "don't ask again" (its own permission-update objects, kept as given). */
  suggestions: unknown[];
}

export interface ApprovalRecord extends ApprovalRequest {
  id: string;
  tenant: string;
  key: string;
  sessionId: string;
  turnId: string;
  status: ApprovalStatus;
  decidedBy: ApprovalDecider | null;
  /** The deny reason given to the agent, or the note of an allow. */
  message: string | null;
  remember: ApprovalRemember | null;
  /** A question's answers (question text → answer), when decided. */
  answers: Record<string, string> | null;
  requestedAt: number;
  decidedAt: number | null;
  /** When a pending approval expires (and counts as denied). */
  expiresAt: number;
  /** When the agent was given the decision; null while it has not been (pending, or decided while the turn was parked). */
  answeredAt: number | null;
}

/** A decision as given: allow or deny, with a message, something to remember, or a question's answers. */
export interface ApprovalDecision {
  decision: 'allow' | 'deny';
  message?: string;
  remember?: ApprovalRemember;
  answers?: Record<string, string>;
}

/** The status a decision (or an ending without one) puts an approval in. */
export function statusOf(decision: ApprovalDecision['decision'] | 'expire'): Exclude<ApprovalStatus, 'pending'> {
  return decision === 'allow' ? 'allowed' : decision === 'deny' ? 'denied' : 'expired';
}

/** What the agent is told about an approval that expired or was withdrawn (it counts as a denial). */
export function expiredMessage(decidedBy: ApprovalDecider | null): string {
  return decidedBy === 'interrupt'
    ? 'The turn was interrupted before anyone decided this tool call.'
    : 'Nobody decided this tool call in time; it was not run.';
}

/**
 * What a turn that parked on approvals (or was taken up again after a restart) tells its agent
 * once they are decided: the agent's own tool call ended when the turn parked, so an allowed call
 * is made again (and then runs at once), a denied or expired one is not.
 */
export function continuationPrompt(decided: readonly ApprovalRecord[]): string {
  const lines = decided.map((a) => {
    if (a.status === 'allowed' && a.kind === 'question') {
      const answers = Object.entries(a.answers ?? {}).map(([q, v]) => `"${q}"="${v}"`);
      return `The person answered your questions: ${answers.join(', ')}. Continue with these answers in mind.`;
    }
    if (a.status === 'allowed') {
      const note = a.message ? ` Their note: ${a.message}` : '';
      return `A person allowed your ${a.tool} call (${a.toolUseId}).${note} It did not run while you waited: make the same call again now and it will run.`;
    }
    if (a.status === 'denied') return `A person denied your ${a.tool} call (${a.toolUseId})${a.message ? `: ${a.message}` : '.'} Do not make it again; go on without it.`;
    return `${expiredMessage(a.decidedBy)} (${a.tool}, ${a.toolUseId}) Go on without it.`;
  });
  return ['[Tether] What you were waiting for has been decided.', ...lines].join('\n');
}
