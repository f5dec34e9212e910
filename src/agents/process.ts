import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { delimiter, join } from 'node:path';
import { killMarked } from '../lib/reaper.js';

/*
 * Agent processes as Tether starts and ends them, whatever the agent: each leads its own process
 * group, carries a marker its tools inherit, dies with Tether on Linux, and may run at a lower
 * CPU priority. Claude Code's processes are started this way through the Agent SDK's spawn hook,
 * Codex's app-server processes directly.
 */

/** Environment marker every agent process, and every tool it runs, carries: one id per agent. */
export const AGENT_MARKER = 'TETHER_AGENT_ID';

const STDERR_TAIL_LINES = 20;

/**
 * The agent process as Tether sees it: its pid (for reaping), whether it still runs, and the
 * last lines it wrote to stderr (for error messages). Filled by `trackedSpawn`.
 */
export class ProcessWatch {
  child: ChildProcess | null = null;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  readonly stderr: string[] = [];
  /** The value of this agent's AGENT_MARKER. */
  readonly agentId = randomUUID();
  #exited: Promise<void>;
  #markExited!: () => void;

  constructor() {
    this.#exited = new Promise((resolve) => {
      this.#markExited = resolve;
    });
  }

  get pid(): number | null {
    return this.child && this.child.exitCode === null && this.child.signalCode === null ? (this.child.pid ?? null) : null;
  }

  get alive(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves when the process has exited (at once if it never started). */
  get exited(): Promise<void> {
    return this.child ? this.#exited : Promise.resolve();
  }

  attach(child: ChildProcess): void {
    this.child = child;
    // The Agent SDK adds a one-shot 'exit' listener each time its reader drains (several times over
    // a spare's claim); they end with the process, so Node's default warning at 10 is a false alarm.
    child.setMaxListeners(50);
    child.once('exit', (code, signal) => {
      this.exitCode = code;
      this.exitSignal = signal;
      this.#markExited();
    });
    child.once('error', () => this.#markExited());
    // Nobody else reads stderr (the Agent SDK does not, for a process it did not spawn); an unread
    // pipe would fill up and stall the agent, so it is always drained, keeping a short tail for error messages.
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (data: string) => {
      for (const line of data.split('\n')) if (line.trim()) this.stderr.push(line);
      if (this.stderr.length > STDERR_TAIL_LINES) this.stderr.splice(0, this.stderr.length - STDERR_TAIL_LINES);
    });
  }

  /**
   * Ends the agent (SIGTERM, then SIGKILL) and what it started: its process group, and the tools
   * that run in sessions of their own, found by this agent's environment marker.
   */
  async kill(graceMs = 2_000): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (!this.alive) {
      // The agent is gone (crashed, killed) but tools it started may not be.
      this.#reapTools(child);
      return this.exited;
    }
    signalGroup(child, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
    timer.unref();
    await this.exited;
    clearTimeout(timer);
    this.#reapTools(child);
  }

  /** Tools run in their own sessions, outside the agent's group: find them by the marker too. */
  #reapTools(child: ChildProcess): void {
    signalGroup(child, 'SIGKILL');
    killMarked(AGENT_MARKER, (value) => value === this.agentId);
  }

  describeExit(): string {
    if (this.exitSignal) return `the agent process was killed (${this.exitSignal})`;
    if (this.exitCode !== null) return `the agent process exited with code ${this.exitCode}`;
    return 'the agent process ended before the turn finished';
  }
}

/**
 * On Linux, util-linux's `setpriv --pdeathsig KILL` makes the kernel kill the agent when the
 * process that started it dies, even by SIGKILL. Without it an orphaned agent keeps running
 * until its current API request ends (it exits on stdin EOF only between requests).
 */
const PDEATHSIG_WRAPPER: string | null = process.platform === 'linux' ? findOnPath('setpriv') : null;

function findOnPath(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** Signals the child's process group (it leads one: spawned detached), or the child alone. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(process.platform === 'win32' ? child.pid : -child.pid, signal);
  } catch {
    // The group is gone already.
  }
}

/** What to start: the command, its arguments, and where and with what environment it runs. */
export interface AgentCommand {
  command: string;
  args: string[];
  cwd?: string;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/**
 * Starts an agent process recorded in `watch`, with pipes on all three streams. The agent leads
 * its own process group and carries AGENT_MARKER, which its tools inherit (agents start some in
 * sessions of their own, outside the group); on Linux it also dies with Tether.
 *
 * With `nice`, the agent runs at a lower CPU priority than Tether: on a busy machine its agents
 * (and their builds and tests) must not starve the process that renews their leases, or a node
 * gives up turns that were running fine. It only matters when the CPU is contended.
 */
export function spawnAgent(watch: ProcessWatch, what: AgentCommand, nice = 0): ChildProcess {
  const [command, args] = PDEATHSIG_WRAPPER ? [PDEATHSIG_WRAPPER, ['--pdeathsig', 'KILL', '--', what.command, ...what.args]] : [what.command, what.args];
  const child = spawn(command, args, {
    ...(what.cwd ? { cwd: what.cwd } : {}),
    env: { ...what.env, [AGENT_MARKER]: watch.agentId },
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(what.signal ? { signal: what.signal } : {}),
    detached: process.platform !== 'win32',
    windowsHide: true,
  });
  if (nice > 0 && child.pid !== undefined) lowerPriority(child.pid, nice);
  watch.attach(child);
  return child;
}

/**
 * Set right after spawn, before the agent has started anything (its tools inherit it), relative
 * to Tether's own niceness. Where that is not permitted the agent runs at Tether's priority.
 */
function lowerPriority(pid: number, nice: number): void {
  try {
    setPriority(pid, Math.min(19, getPriority() + nice));
  } catch {
    // Not permitted here, or the process is already gone.
  }
}
