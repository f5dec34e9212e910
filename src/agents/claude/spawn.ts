import { spawn, type ChildProcess } from 'node:child_process';
import type { SpawnOptions, SpawnedProcess } from '@anthropic-ai/claude-agent-sdk';

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
    // The SDK adds a one-shot 'exit' listener each time its reader drains (several times over a
    // spare's claim); they end with the process, so Node's default warning at 10 is a false alarm.
    child.setMaxListeners(50);
    child.once('exit', (code, signal) => {
      this.exitCode = code;
      this.exitSignal = signal;
      this.#markExited();
    });
    child.once('error', () => this.#markExited());
    // The SDK does not read stderr of a process it did not spawn; an unread pipe would fill up
    // and stall the agent, so it is always drained, keeping a short tail for error messages.
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (data: string) => {
      for (const line of data.split('\n')) if (line.trim()) this.stderr.push(line);
      if (this.stderr.length > STDERR_TAIL_LINES) this.stderr.splice(0, this.stderr.length - STDERR_TAIL_LINES);
    });
  }

  /** Ends the process: SIGTERM, then SIGKILL if it lingers. */
  async kill(graceMs = 2_000): Promise<void> {
    const child = this.child;
    if (!child || !this.alive) return this.exited;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    timer.unref();
    await this.exited;
    clearTimeout(timer);
  }

  describeExit(): string {
    if (this.exitSignal) return `the agent process was killed (${this.exitSignal})`;
    if (this.exitCode !== null) return `the agent process exited with code ${this.exitCode}`;
    return 'the agent process ended before the turn finished';
  }
}

/** A `spawnClaudeCodeProcess` for the SDK that records the child in `watch`. */
export function trackedSpawn(watch: ProcessWatch): (options: SpawnOptions) => SpawnedProcess {
  return (options) => {
    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      signal: options.signal,
      windowsHide: true,
    });
    watch.attach(child);
    return child as SpawnedProcess;
  };
}
