import { useEffect, useRef } from 'preact/hooks';
import { createParser } from 'eventsource-parser';
import { token } from './api.js';

type Listener = (type: string, event: Record<string, unknown>) => void;

/*
 * The tenant's events (`GET /v1/events`), one stream for the whole page however many parts listen.
 * The events are hints: a part that hears of a change reads the truth from the API again. A
 * dropped stream is opened again after a pause (1 s, doubling to 15 s), and each reconnect is
 * told as `reconnected`, since events may have been missed meanwhile.
 */
const listeners = new Set<Listener>();
let stream: AbortController | null = null;

function tell(type: string, event: Record<string, unknown>): void {
  for (const listener of [...listeners]) listener(type, event);
}

async function follow(stop: AbortSignal): Promise<void> {
  let pause = 1000;
  while (!stop.aborted) {
    try {
      const t = token();
      const res = await fetch('/v1/events', { headers: { accept: 'text/event-stream', ...(t ? { authorization: `Bearer ${t}` } : {}) }, signal: stop });
      if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
      pause = 1000;
      tell('reconnected', {});
      const parser = createParser({ onEvent: (m) => tell(m.event ?? 'message', JSON.parse(m.data) as Record<string, unknown>) });
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(value);
      }
    } catch {
      if (stop.aborted) return;
    }
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(15_000, pause * 2);
  }
}

/** Calls `onEvent` (its latest version) with each event while the component is mounted. */
export function useEvents(onEvent: Listener): void {
  const latest = useRef(onEvent);
  latest.current = onEvent;
  useEffect(() => {
    const listener: Listener = (type, event) => latest.current(type, event);
    listeners.add(listener);
    if (!stream) {
      stream = new AbortController();
      void follow(stream.signal);
    }
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0) {
        stream?.abort();
        stream = null;
      }
    };
  }, []);
}
