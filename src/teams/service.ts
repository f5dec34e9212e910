import type { ApprovalDecisionInput, SendOptions, Tether } from '../broker/api.js';
import { connectTether } from '../client/http-tether.js';
import type { Clock, Timer } from '../domain/clock.js';
import type { ApprovalEvent, TetherEvent } from '../domain/events.js';
import type { SessionRecord, TurnRecord, Usage } from '../domain/types.js';
import { ErrorCode, TetherError, invalidInput, isTetherError } from '../errors.js';
import { teamKey, type Team } from './config.js';
import { AskGuard, type AskGuardLimits, type ConversationRef } from './guard.js';

/** The teams as they are now (the registry, which reloads; or a fixed config in tests). */
export interface TeamsSource {
  team(name: string): Team | undefined;
  names(): string[];
  /** Reads the teams file again; a bad file keeps the teams in use (optional: a fixed config has none). */
  reload?(): { ok: true; teams: number } | { ok: false; error: TetherError };
  /** Reloads whenever the file changes. */
  watch?(): void;
}

/** Who asks: the calling team, and where the call comes from. */
export interface TeamCaller {
  fromTeam: string;
  /** The tenant the local conversations belong to (a remote daemon's token decides its own). */
  tenant?: string;
  /** The conversation whose turn makes the call, when Tether runs it (a team agent's tools). */
  conversation?: ConversationRef | null;
}

/** What an ask reports while it waits: the asked agent's steps, its queue, its approvals. */
export interface AskProgress {
  message: string;
  /** Turns ahead, tools used, approvals asked: grows as the turn goes on. */
  step: number;
}

export interface AskOptions {
  /** How long to wait for the reply before answering with the turn id instead (default 600 s). */
  timeoutSec?: number;
  onProgress?: (progress: AskProgress) => void;
  /**
   * An approval the asked turn waits on, offered to the asking side's person. A decision is
   * applied; null leaves it pending (in the approvals inbox, `tether approvals`).
   */
  onApproval?: (approval: ApprovalEvent, toTeam: string) => Promise<ApprovalDecisionInput | null>;
}

/** An ask's outcome: the reply, or the turn to look up later when the wait ran out. */
export type AskOutcome =
  | { status: 'completed'; turnId: string; key: string; reply: string; usage: Usage }
  | { status: 'pending'; turnId: string; key: string };

export interface TeamInfo {
  name: string;
  description: string;
  /** The daemon that serves it, for a remote team; null for a local one. */
  remote: string | null;
  /**
   * The calling team's conversation with it: whether one is open, running, its queue, and whether
   * an agent process serves it now (null: not known here, for a team of another daemon).
   */
  conversation: { exists: boolean; busy: boolean; queued: number; awake: boolean | null } | null;
}

export interface PairStatus {
  team: string;
  key: string;
  remote: string | null;
  session: SessionRecord | null;
  busy: boolean;
  queued: number;
}

export interface TurnSummary {
  turnId: string;
  key: string;
  seq: number;
  status: TurnRecord['status'];
  message: string;
  reply: string | null;
  error: TurnRecord['error'];
  usage: Usage | null;
}

export interface TeamsServiceOptions {
  /** The broker local teams run on: embedded, or a daemon through `connectTether`. */
  tether: Tether;
  teams: TeamsSource;
  limits: AskGuardLimits;
  clock: Clock;
  /** A client for a remote team's daemon (default: connectTether with its URL and token). */
  connect?: (remote: { url: string; token: string }) => Tether;
}

const DEFAULT_TIMEOUT_SEC = 600;

/**
 * What teams can do to each other, over any Tether: the operations behind the MCP tools. A
 * message from team A to team B is a turn on the key `team:A->B`, run in B's project with B's
 * settings; a remote team's turns run on its daemon, reached with its token.
 */
export class TeamsService {
  readonly #o: TeamsServiceOptions;
  readonly #guard: AskGuard;
  readonly #remotes = new Map<string, Tether>();

  constructor(options: TeamsServiceOptions) {
    this.#o = options;
    this.#guard = new AskGuard(options.limits);
  }

  /** The teams `fromTeam` can talk to (every team but itself), with its conversation with each. */
  async list(caller: TeamCaller): Promise<TeamInfo[]> {
    this.#team(caller.fromTeam, 'fromTeam');
    const names = this.#o.teams
      .names()
      .filter((name) => name !== caller.fromTeam)
      .sort();
    return Promise.all(
      names.map(async (name): Promise<TeamInfo> => {
        const team = this.#o.teams.team(name)!;
        const target = this.#target(caller, name);
        const peek = await target.tether.peek(target.key, target.scope).catch(() => null);
        return {
          name,
          description: team.description,
          remote: team.remote?.url ?? null,
          conversation: peek ? { exists: peek.exists, busy: peek.busy, queued: peek.queued, awake: peek.awake ?? null } : null,
        };
      }),
    );
  }

  /** Sends `message` to `toTeam` and waits for its reply, or for `timeoutSec` (then: the turn id). */
  async ask(caller: TeamCaller, toTeam: string, message: string, options: AskOptions = {}): Promise<AskOutcome> {
    const target = this.#target(caller, toTeam);
    const pass = this.#guard.admit(caller.fromTeam, caller.conversation ?? null, { tenant: target.guardTenant, key: target.key });
    try {
      const handle = target.tether.send(target.key, message, this.#sendOptions(caller, target));
      const { turnId } = await handle.accepted;
      let waiting = true;
      let step = 0;
      const progress = (text: string): void => {
        if (waiting) options.onProgress?.({ message: `${toTeam}: ${text}`, step: ++step });
      };
      void this.#follow(handle, target, toTeam, progress, options, () => waiting);
      const timeoutMs = (options.timeoutSec ?? DEFAULT_TIMEOUT_SEC) * 1000;
      let timer: Timer | undefined;
      const timedOut = new Promise<null>((resolve) => {
        timer = this.#o.clock.timeout(timeoutMs, () => resolve(null), { unref: true });
      });
      try {
        const result = await Promise.race([handle.result, timedOut]);
        if (result === null) return { status: 'pending', turnId, key: target.key };
        return { status: 'completed', turnId, key: target.key, reply: result.text, usage: result.usage };
      } finally {
        waiting = false;
        timer?.cancel();
      }
    } finally {
      pass.end();
    }
  }

  /** Sends `message` to `toTeam` without waiting: the turn id, to look up with `result`. */
  async tell(caller: TeamCaller, toTeam: string, message: string): Promise<{ turnId: string; key: string }> {
    const target = this.#target(caller, toTeam);
    const handle = target.tether.send(target.key, message, this.#sendOptions(caller, target));
    // Nobody reads this turn's events; its end is in the journal for `result`.
    handle.result.catch(() => undefined);
    const { turnId } = await handle.accepted;
    return { turnId, key: target.key };
  }

  /**
   * A turn of one of the calling team's conversations, by id: its status and, once it ended, the
   * reply. `toTeam` names the daemon of a remote team's turn; local turns are found without it.
   */
  async result(caller: TeamCaller, turnId: string, toTeam?: string): Promise<TurnSummary> {
    this.#team(caller.fromTeam, 'fromTeam');
    const where = toTeam !== undefined ? this.#target(caller, toTeam) : { tether: this.#o.tether, scope: this.#scope(caller) };
    const turn = await where.tether.getTurn(turnId, where.scope);
    // Another team's conversations are not this team's business: such a turn is not found.
    if (!turn || !turn.key.startsWith(teamKey(caller.fromTeam, ''))) {
      throw new TetherError(ErrorCode.NOT_FOUND, `no turn ${turnId} in a conversation of team "${caller.fromTeam}"${toTeam ? ` with "${toTeam}"` : ''}`);
    }
    return summary(turn);
  }

  /** The calling team's conversation with `toTeam`: its session (turns, usage, context), busy, queue. */
  async status(caller: TeamCaller, toTeam: string): Promise<PairStatus> {
    const target = this.#target(caller, toTeam);
    const [session, peek] = await Promise.all([target.tether.get(target.key, target.scope), target.tether.peek(target.key, target.scope)]);
    return { team: toTeam, key: target.key, remote: target.remote, session, busy: peek.busy, queued: peek.queued };
  }

  /** Starts the agent process of the conversation with `toTeam` ahead of the next message. */
  async wake(caller: TeamCaller, toTeam: string) {
    const target = this.#target(caller, toTeam);
    return target.tether.wake(target.key, target.scope);
  }

  /** Ends the idle agent process of the conversation with `toTeam`; the conversation stays. */
  async sleep(caller: TeamCaller, toTeam: string) {
    const target = this.#target(caller, toTeam);
    return target.tether.sleep(target.key, target.scope);
  }

  /** Closes the conversation with `toTeam`: the next message starts a new one, with the team's current settings. */
  async reset(caller: TeamCaller, toTeam: string): Promise<SessionRecord> {
    const target = this.#target(caller, toTeam);
    return target.tether.reset(target.key, target.scope);
  }

  async compact(caller: TeamCaller, toTeam: string) {
    const target = this.#target(caller, toTeam);
    return target.tether.compact(target.key, target.scope);
  }

  /** The last `limit` turns of the conversation with `toTeam`, oldest first. */
  async history(caller: TeamCaller, toTeam: string, limit = 10): Promise<TurnSummary[]> {
    const target = this.#target(caller, toTeam);
    const turns = await target.tether.turns(target.key, { ...target.scope, limit });
    return turns.map(summary);
  }

  /** Reloads the teams file whenever it changes (the daemon does; one-shot commands need not). */
  watch(): void {
    this.#o.teams.watch?.();
  }

  /** Reads the teams file now (SIGHUP); null when the teams do not come from a file. */
  reload(): ReturnType<NonNullable<TeamsSource['reload']>> | null {
    return this.#o.teams.reload?.() ?? null;
  }

  /** Whether a team of that name is configured now. */
  hasTeam(name: string): boolean {
    return this.#o.teams.team(name) !== undefined;
  }

  /** Asks waiting now, by asking team. */
  waiting(): Record<string, number> {
    return this.#guard.waiting();
  }

  /** Closes the clients of remote daemons. */
  async close(): Promise<void> {
    const remotes = [...this.#remotes.values()];
    this.#remotes.clear();
    await Promise.all(remotes.map((remote) => remote.close()));
  }

  /** Reports the asked turn's progress, and offers its approvals to the asking side. */
  async #follow(
    handle: AsyncIterable<TetherEvent>,
    target: Target,
    toTeam: string,
    progress: (text: string) => void,
    options: AskOptions,
    waiting: () => boolean,
  ): Promise<void> {
    try {
      for await (const event of handle) {
        if (!waiting()) return;
        if (event.type === 'turn.queued' && event.position > 0) progress(`queued behind ${event.position} turn${event.position === 1 ? '' : 's'}`);
        else if (event.type === 'turn.started') progress('working');
        else if (event.type === 'tool.use') progress(`using ${event.name}`);
        else if (event.type === 'approval.requested') {
          progress(`waiting for approval ${event.id}: ${event.tool}`);
          if (options.onApproval) void this.#offer(event, target, toTeam, options.onApproval);
        }
      }
    } catch {
      // The turn's failure reaches the ask through `result`.
    }
  }

  async #offer(approval: ApprovalEvent, target: Target, toTeam: string, ask: NonNullable<AskOptions['onApproval']>): Promise<void> {
    const decision = await ask(approval, toTeam).catch(() => null);
    if (!decision) return;
    await target.tether.decide(approval.id, decision, target.scope).catch((err: unknown) => {
      // Decided meanwhile in the inbox, or expired: exactly one decision wins.
      if (!isTetherError(err, ErrorCode.ALREADY_DECIDED)) throw err;
    });
  }

  /** The conversation of `caller.fromTeam` with `toTeam`: its key, and the Tether it lives on. */
  #target(caller: TeamCaller, toTeam: string): Target {
    this.#team(caller.fromTeam, 'fromTeam');
    const team = this.#team(toTeam, 'toTeam');
    if (toTeam === caller.fromTeam) throw invalidInput(`team "${toTeam}" cannot talk to itself; name another team (team_list shows them)`);
    const key = teamKey(caller.fromTeam, toTeam);
    if (!team.remote) return { team, key, tether: this.#o.tether, scope: this.#scope(caller), remote: null, guardTenant: caller.tenant ?? '' };
    return { team, key, tether: this.#remote(team.remote), scope: {}, remote: team.remote.url, guardTenant: `remote ${team.remote.url}` };
  }

  #team(name: string, field: 'fromTeam' | 'toTeam'): Team {
    const team = this.#o.teams.team(name);
    if (!team) {
      const known = this.#o.teams.names();
      throw new TetherError(ErrorCode.NOT_FOUND, `${field}: no team "${name}" in the teams file${known.length ? ` (teams: ${known.join(', ')})` : ' (it has no teams)'}`, {
        details: { field, team: name },
      });
    }
    return team;
  }

  #scope(caller: TeamCaller): { tenant?: string } {
    return caller.tenant !== undefined ? { tenant: caller.tenant } : {};
  }

  /**
   * A message's options: the asked team's settings (a new conversation starts with them; a
   * running one keeps its own until reset), and labels naming both sides.
   */
  #sendOptions(caller: TeamCaller, target: Target): SendOptions {
    const options: SendOptions = { ...target.scope, labels: { team: target.team.name, fromTeam: caller.fromTeam } };
    // A remote team's settings are its daemon's (the key names the team there).
    if (!target.remote) Object.assign(options, teamSendOptions(target.team));
    return options;
  }

  #remote(remote: { url: string; token: string }): Tether {
    const id = `${remote.url}\u0000${remote.token}`;
    let client = this.#remotes.get(id);
    if (!client) {
      client = (this.#o.connect ?? connectTether)(remote);
      this.#remotes.set(id, client);
    }
    return client;
  }
}

interface Target {
  team: Team;
  key: string;
  tether: Tether;
  scope: { tenant?: string };
  remote: string | null;
  guardTenant: string;
}

/** The session settings a local team's conversations start with (its project and agent settings). */
export function teamSendOptions(team: Team): SendOptions {
  const options: SendOptions = {};
  if (team.path !== null) options.cwd = team.path;
  if (team.model !== undefined) options.model = team.model;
  if (team.permissionMode !== undefined) options.permissionMode = team.permissionMode;
  if (team.appendSystemPrompt !== undefined) options.appendSystemPrompt = team.appendSystemPrompt;
  if (team.approvals !== undefined) options.approvals = team.approvals;
  if (team.backend !== undefined) options.backend = team.backend;
  return options;
}

function summary(turn: TurnRecord): TurnSummary {
  return { turnId: turn.id, key: turn.key, seq: turn.seq, status: turn.status, message: turn.prompt, reply: turn.text, error: turn.error, usage: turn.usage };
}
