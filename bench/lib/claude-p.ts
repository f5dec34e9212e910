import { spawn } from 'node:child_process';

export interface PrintResult {
  /** ms from spawn to the moment the JSON result was complete on stdout. */
  resultMs: number;
  /** ms from spawn to the process's exit. */
  exitMs: number;
  sessionId: string;
  text: string;
}

/**
 * The seeds' way of running a turn: one `claude -p` process per message, continuing the
 * conversation with `--resume <id>` (or opening it with `--session-id <id>`). The result is
 * timed at the moment the JSON reply is complete on stdout (what a caller could act on), and
 * the exit is recorded too.
 */
export function claudePrint(options: {
  binary: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  prompt: string;
  resume?: string;
  sessionId?: string;
}): Promise<PrintResult> {
  const args = ['-p', '--output-format', 'json'];
  if (options.resume) args.push('--resume', options.resume);
  else if (options.sessionId) args.push('--session-id', options.sessionId);
  args.push(options.prompt);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(options.binary, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let resultAt = Number.NaN;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      if (Number.isNaN(resultAt) && out.trimEnd().endsWith('}')) {
        try {
          JSON.parse(out);
          resultAt = performance.now();
        } catch {
          // not complete yet
        }
      }
    });
    child.stderr.on('data', (chunk: string) => {
      err += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const exitAt = performance.now();
      if (code !== 0) return reject(new Error(`claude -p exited ${code}: ${err.slice(-500)} ${out.slice(-500)}`));
      let json: { session_id?: string; result?: string; is_error?: boolean };
      try {
        json = JSON.parse(out) as typeof json;
      } catch {
        return reject(new Error(`claude -p printed no JSON: ${out.slice(0, 500)}`));
      }
      if (json.is_error) return reject(new Error(`claude -p turn failed: ${out.slice(0, 500)}`));
      resolve({
        resultMs: (Number.isNaN(resultAt) ? exitAt : resultAt) - started,
        exitMs: exitAt - started,
        sessionId: json.session_id ?? options.resume ?? options.sessionId ?? '',
        text: json.result ?? '',
      });
    });
  });
}
