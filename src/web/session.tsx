import { useEffect, useState } from 'preact/hooks';
import { api, keyPath, sendMessage } from './api.js';
import { percent, tokensOf, usd, when, type Session, type Turn } from './types.js';

interface Live {
  prompt: string;
  text: string;
  status: string;
}

/** One conversation: its facts, its turns as a timeline, and a box to send it a message. */
export function SessionPage(props: { sessionKey: string; onError: (err: unknown) => void }) {
  const { sessionKey: key } = props;
  const [session, setSession] = useState<Session | null>(null);
  const [turns, setTurns] = useState<Turn[]>([]);
  const [version, setVersion] = useState(0);
  const [prompt, setPrompt] = useState('');
  const [live, setLive] = useState<Live | null>(null);

  useEffect(() => {
    let stale = false;
    Promise.all([api<Session>(keyPath(key)), api<{ turns: Turn[] }>(`${keyPath(key)}/turns`)])
      .then(([s, t]) => {
        if (stale) return;
        setSession(s);
        setTurns(t.turns);
      })
      .catch(props.onError);
    return () => void (stale = true);
  }, [key, version]);

  const send = async (text: string): Promise<void> => {
    const shown: Live = { prompt: text, text: '', status: 'queued' };
    setLive({ ...shown });
    try {
      await sendMessage(key, text, (event) => {
        if (event.type === 'turn.started') shown.status = 'running';
        else if (event.type === 'text.delta') shown.text += String(event.text ?? '');
        else if (event.type === 'turn.completed') {
          shown.status = 'succeeded';
          shown.text = String(event.text ?? shown.text);
        } else if (event.type === 'turn.failed' || event.type === 'error') {
          shown.status = 'failed';
          const error = (event.error ?? event) as { message?: string };
          shown.text = `${shown.text}\n${error.message ?? 'failed'}`.trim();
        }
        setLive({ ...shown });
      });
    } catch (err) {
      props.onError(err);
    } finally {
      setLive(null);
      setVersion((v) => v + 1);
    }
  };

  if (session === null) return <p class="muted">Loading…</p>;
  return (
    <section>
      <h2 class="key">{session.key}</h2>
      <dl class="facts">
        <dt>status</dt>
        <dd>
          <span class={`status ${session.status}`}>{session.status}</span> generation {session.generation}
        </dd>
        <dt>agent</dt>
        <dd>
          {session.backend}
          {session.config.model ? ` · ${session.config.model}` : ''}
          {session.config.permissionMode ? ` · ${session.config.permissionMode}` : ''}
        </dd>
        <dt>cwd</dt>
        <dd>{session.config.cwd}</dd>
        <dt>context</dt>
        <dd>
          <span class="gauge" title={`${session.context.tokens} of ${session.context.window} tokens`}>
            <span style={{ width: percent(Math.min(1, session.context.ratio)) }} />
          </span>{' '}
          {percent(session.context.ratio)} of {session.context.window.toLocaleString()} tokens
        </dd>
        <dt>usage</dt>
        <dd>
          {session.turns} turns · {tokensOf(session.usage).toLocaleString()} tokens · {usd(session.usage.costUsd)}
        </dd>
        <dt>labels</dt>
        <dd>{Object.entries(session.labels).map(([k, v]) => `${k}=${v}`).join(', ') || '—'}</dd>
        <dt>last active</dt>
        <dd>{when(session.lastActiveAt)}</dd>
      </dl>
      <ol class="timeline">
        {turns.map((t) => (
          <li key={t.id} class={`turn ${t.status}`}>
            <div class="who">
              #{t.seq} · {t.status}
              {t.durationMs !== null ? ` · ${(t.durationMs / 1000).toFixed(1)} s` : ''}
            </div>
            <div class="text prompt">{t.prompt}</div>
            <div class="text reply">{t.text ?? (t.error ? `${t.error.code}: ${t.error.message}` : '')}</div>
          </li>
        ))}
        {live && (
          <li class={`turn live ${live.status}`}>
            <div class="who">{live.status}</div>
            <div class="text prompt">{live.prompt}</div>
            <div class="text reply">{live.text}</div>
          </li>
        )}
      </ol>
      <form
        class="send"
        onSubmit={(e) => {
          e.preventDefault();
          const text = prompt.trim();
          if (!text || live) return;
          setPrompt('');
          void send(text);
        }}
      >
        <textarea name="prompt" placeholder="Send a message…" value={prompt} onInput={(e) => setPrompt(e.currentTarget.value)} />
        <button class="primary" type="submit" disabled={live !== null}>
          Send
        </button>
      </form>
    </section>
  );
}
