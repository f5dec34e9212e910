/**
 * Benchmark 9's SSE clients, in a process of their own. Spawned by event-delivery.ts with IPC.
 * Asked `{ type: 'turns', url, turns: [{ key, prompt }] }`, it runs those turns at once over
 * `POST /v1/sessions/{key}/messages` as SSE and answers `{ type: 'done', received }`: each text
 * delta with the moment it was parsed (process.hrtime, the broker's clock too), or `{ type:
 * 'failed', error }`.
 */
import { readSse } from '../../src/client/sse-parser.js';

interface TurnsMessage {
  type: 'turns';
  url: string;
  turns: Array<{ key: string; prompt: string }>;
}

const hrMs = (): number => Number(process.hrtime.bigint()) / 1e6;
const send = (message: unknown): void => void process.send!(message);

process.on('message', (message: TurnsMessage | { type: 'exit' }) => {
  if (message.type === 'exit') return process.disconnect();
  const received: Array<[string, number]> = [];
  Promise.all(message.turns.map((turn) => sseTurn(message.url, turn.key, turn.prompt, received))).then(
    () => send({ type: 'done', received }),
    (err: unknown) => send({ type: 'failed', error: String(err) }),
  );
});
send({ type: 'ready' });

async function sseTurn(url: string, key: string, prompt: string, into: Array<[string, number]>): Promise<void> {
  const res = await fetch(`${url}/v1/sessions/${encodeURIComponent(key)}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ prompt }),
  });
  if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  for await (const message of readSse(res.body)) {
    if (message.event === 'text.delta') {
      const at = hrMs();
      into.push([(JSON.parse(message.data) as { text: string }).text, at]);
    } else if (message.event === 'turn.completed') {
      return;
    } else if (message.event === 'turn.failed') {
      throw new Error(`turn failed: ${message.data}`);
    }
  }
  throw new Error('the stream ended before the turn did');
}
