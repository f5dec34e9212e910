import { describe, expect, it } from 'vitest';
import { SseParser, readSse, type SseMessage } from '../../src/client/sse-parser.js';

/** Feeds `chunks` to one parser and collects every dispatched event. */
function parse(chunks: string[], parser = new SseParser()): SseMessage[] {
  return chunks.flatMap((c) => parser.feed(c));
}

/** Every way of cutting `text` in two (and in single characters): the result must not change. */
function everySplit(text: string): string[][] {
  const splits: string[][] = [[...text]];
  for (let i = 0; i <= text.length; i++) splits.push([text.slice(0, i), text.slice(i)]);
  return splits;
}

const STREAM = 'id: 1\nevent: turn.queued\ndata: {"a":1}\n\n: keep-alive\n\nid: 2\nevent: text.delta\ndata: {"b":2}\n\n';
const EXPECTED: SseMessage[] = [
  { id: '1', event: 'turn.queued', data: '{"a":1}' },
  { id: '2', event: 'text.delta', data: '{"b":2}' },
];

describe('SseParser', () => {
  it('parses id, event and data, and skips comments', () => {
    const comments: string[] = [];
    expect(parse([STREAM], new SseParser({ onComment: (c) => comments.push(c) }))).toEqual(EXPECTED);
    expect(comments).toEqual(['keep-alive']);
  });

  it('gives the same events however the stream is cut into chunks', () => {
    for (const chunks of everySplit(STREAM)) expect(parse(chunks), JSON.stringify(chunks)).toEqual(EXPECTED);
  });

  it('accepts CRLF, CR and LF line ends, also with a CRLF pair split across chunks', () => {
    for (const eol of ['\r\n', '\r', '\n']) {
      const text = STREAM.replaceAll('\n', eol);
      for (const chunks of everySplit(text)) expect(parse(chunks), `${JSON.stringify(eol)} ${JSON.stringify(chunks)}`).toEqual(EXPECTED);
    }
    // A CR ending one chunk and the LF starting the next are one line end, not two (no empty event).
    expect(parse(['data: x\r', '\n\r', '\n'])).toEqual([{ event: 'message', data: 'x' }]);
  });

  it('dispatches an event whose blank line is a CR ending the chunk, without waiting for more', () => {
    expect(new SseParser().feed('data: x\r\r')).toEqual([{ event: 'message', data: 'x' }]);
  });

  it('joins multi-line data with LF and keeps spaces after the first', () => {
    expect(parse(['data: one\ndata:two\ndata:   three\ndata\n\n'])).toEqual([{ event: 'message', data: 'one\ntwo\n  three\n' }]);
  });

  it('defaults the event type to message and resets it after each event', () => {
    expect(parse(['event: a\ndata: 1\n\ndata: 2\n\n'])).toEqual([
      { event: 'a', data: '1' },
      { event: 'message', data: '2' },
    ]);
  });

  it('reports only an event\'s own id, while lastEventId persists; an id with NUL is ignored', () => {
    const parser = new SseParser();
    expect(parse(['id: 7\ndata: a\n\ndata: b\n\nid: 8\0\ndata: c\n\nid\ndata: d\n\n'], parser)).toEqual([
      { id: '7', event: 'message', data: 'a' },
      { event: 'message', data: 'b' },
      { event: 'message', data: 'c' },
      { id: '', event: 'message', data: 'd' },
    ]);
    expect(parser.lastEventId).toBe('');
    parser.feed('id: 0\ndata: rebuilt\n\n');
    expect(parser.lastEventId).toBe('0');
  });

  it('does not dispatch an event without data, nor one left unfinished at the end', () => {
    const parser = new SseParser();
    expect(parse(['event: lonely\n\nid: 3\n\ndata: half'], parser)).toEqual([]);
    // eventsource-parser reports no id of a block without data (a browser would keep it as the
    // last event id); Tether's server never sends one, and the client resumes from event ids.
    expect(parser.lastEventId).toBe('');
    parser.end();
    expect(parser.feed('\n')).toEqual([]);
  });

  it('reports retry only when it is all digits, and ignores unknown fields', () => {
    const retries: number[] = [];
    const parser = new SseParser({ onRetry: (ms) => retries.push(ms) });
    expect(parse(['retry: 1500\nretry: soon\nfoo: bar\ndata: x\n\n'], parser)).toEqual([{ event: 'message', data: 'x' }]);
    expect(retries).toEqual([1500]);
  });

  it('drops one leading byte order mark', () => {
    expect(parse(['\uFEFF', 'data: x\n\n'])).toEqual([{ event: 'message', data: 'x' }]);
    expect(parse(['\uFEFFdata: \uFEFFx\n\n'])).toEqual([{ event: 'message', data: '\uFEFFx' }]);
  });

  it('readSse decodes UTF-8 split inside a character', async () => {
    const bytes = new TextEncoder().encode('id: 1\ndata: {"text":"héllo 👋"}\n\n');
    async function* oneByteAtATime(): AsyncGenerator<Uint8Array> {
      for (const b of bytes) yield Uint8Array.of(b);
    }
    const events: SseMessage[] = [];
    for await (const e of readSse(oneByteAtATime())) events.push(e);
    expect(events).toEqual([{ id: '1', event: 'message', data: '{"text":"héllo 👋"}' }]);
  });
});
