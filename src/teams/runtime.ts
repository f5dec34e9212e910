import type { Logger } from 'pino';
import type { InProcessTools } from '../agents/agent.js';
import type { SendOptions, Tether } from '../broker/api.js';
import type { TetherConfig } from '../config.js';
import type { Clock } from '../domain/clock.js';
import type { SessionRecord } from '../domain/types.js';
import { resolveAllowedRoots } from '../lib/paths.js';
import { createTeamsMcpServer } from '../mcp/server.js';
import { parseTeamKey } from './config.js';
import { TeamsRegistry } from './registry.js';
import { TeamsService, teamSendOptions } from './service.js';

/** The name team agents see Tether's tools under: `mcp__tether__team_ask`, … */
export const TOOLS_SERVER_NAME = 'tether';

/**
 * Teams inside one Tether (TETHER_TEAMS): the live registry, and what the broker asks of it —
 * the settings a `team:A->B` key implies, and the in-process teams tools of B's agent, bound to
 * its conversation so that its asks enter the loop guard. `bind` builds the service once the
 * broker exists (the tools call it, and it sends through the broker).
 */
export class TeamsRuntime {
  readonly registry: TeamsRegistry;
  readonly #limits: { maxDepth: number; maxAsks: number };
  readonly #clock: Clock;
  #service: TeamsService | null = null;

  private constructor(registry: TeamsRegistry, config: TetherConfig, clock: Clock) {
    this.registry = registry;
    this.#limits = { maxDepth: config.teamsMaxDepth, maxAsks: config.teamsMaxAsks };
    this.#clock = clock;
  }

  /** The runtime of `config.teams`, or null without a teams file. A bad file refuses the start. */
  static open(config: TetherConfig, options: { logger: Logger; clock: Clock }): TeamsRuntime | null {
    if (!config.teams) return null;
    const roots = resolveAllowedRoots(config.allowedRoots, process.cwd()).real;
    const registry = TeamsRegistry.open({ file: config.teams, roots, logger: options.logger, clock: options.clock });
    return new TeamsRuntime(registry, config, options.clock);
  }

  bind(tether: Tether): TeamsService {
    this.#service ??= new TeamsService({ tether, teams: this.registry, limits: this.#limits, clock: this.#clock });
    return this.#service;
  }

  /** A local team's settings for the messages of its conversations, whoever sends them. */
  keyDefaults(key: string): SendOptions | null {
    const pair = parseTeamKey(key);
    const team = pair ? this.registry.team(pair.to) : undefined;
    if (!pair || !team || team.remote) return null;
    return { ...teamSendOptions(team), labels: { team: pair.to, fromTeam: pair.from } };
  }

  /** The teams tools of a local team's agent, speaking for that team in that conversation. */
  agentTools(session: SessionRecord): InProcessTools[] {
    const pair = parseTeamKey(session.key);
    const service = this.#service;
    if (!pair || !service || !this.registry.team(pair.to) || this.registry.team(pair.to)?.remote) return [];
    const context = { team: pair.to, tenant: session.tenant, conversation: { tenant: session.tenant, key: session.key } };
    return [{ name: TOOLS_SERVER_NAME, create: () => createTeamsMcpServer(service, context) }];
  }

  async close(): Promise<void> {
    this.registry.close();
    await this.#service?.close();
  }
}
