import { useEffect, useRef, useState } from 'preact/hooks';
import { api, download, keyPath, streamTurn } from './api.js';
import { Approvals } from './approvals.js';
import { useEvents } from './events.js';
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

  // The turn this page sent, whose events its own stream shows.
  const ownTurn = useRef<string | null>(null);
  const sending = useRef(false);
  // Another client's turn on this key, streamed as it runs (from the tenant's events).
  const [other, setOther] = useState<{ turnId: string; text: string } | null>(null);
  useEvents((type, event) => {
    if (type === 'reconnected') {
      setOther(null);
      setVersion((v) => v + 1);
      return;
    }
    if (event.key !== key) return;
    const turnId = typeof event.turnId === 'string' ? event.turnId : null;
    // While this page's own send has not yet learnt its turn id, a turn's events may be its own.
    const others = turnId !== null && turnId !== ownTurn.current && (sending.current === false || ownTurn.current !== null);
    if (others && type === 'turn.started') setOther({ turnId, text: '' });
    else if (others && type === 'text.delta') setOther((o) => ({ turnId, text: (o?.turnId === turnId ? o.text : '') + String(event.text ?? '') }));
    else if (type === 'turn.completed' || type === 'turn.failed' || type.startsWith('session.')) {
      if (others) setOther(null);
      setVersion((v) => v + 1);
    }
  });

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

  const run = async (request: { prompt: string } | 'regenerate' | 'continue'): Promise<void> => {
    const shown: Live = { prompt: typeof request === 'string' ? `(${request})` : request.prompt, text: '', status: 'queued' };
    setLive({ ...shown });
    ownTurn.current = null;
    sending.current = true;
    try {
      await streamTurn(key, request, (event) => {
        if (typeof event.turnId === 'string') ownTurn.current = event.turnId;
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
      sending.current = false;
      setVersion((v) => v + 1);
    }
  };

  /** An operation on the session (POST or PATCH of /v1), then the page again. */
  const act = async (what: () => Promise<unknown>): Promise<void> => {
    try {
      await what();
    } catch (err) {
      props.onError(err);
    } finally {
      setVersion((v) => v + 1);
    }
  };
  const post = (op: string, body: unknown = {}) => act(() => api(`${keyPath(key)}/${op}`, { method: 'POST', body }));
  const patch = (body: unknown) => act(() => api(keyPath(key), { method: 'PATCH', body }));

  if (session === null) return <p class="muted">Loading…</p>;
  const idle = live === null && session.status !== 'running';
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
        <dt>metadata</dt>
        <dd>
          {Object.keys(session.metadata ?? {}).length > 0 ? <code>{JSON.stringify(session.metadata)}</code> : '—'}
        </dd>
        <dt>last active</dt>
        <dd>{when(session.lastActiveAt)}</dd>
      </dl>
      <div class="actions">
        <button onClick={() => void post('interrupt')} disabled={idle}>
          Interrupt
        </button>
        <button onClick={() => void run('regenerate')} disabled={!idle || turns.length === 0}>
          Regenerate
        </button>
        <button onClick={() => void run('continue')} disabled={!idle || turns.length === 0}>
          Continue
        </button>
        <button onClick={() => void post('compact')} disabled={!idle || session.agentSessionId === null}>
          Compact
        </button>
        <button onClick={() => window.confirm(`Reset ${key}? Its next message starts a new conversation.`) && void post('reset')} disabled={!idle}>
          Reset
        </button>
        <button
          onClick={() => {
            const to = window.prompt('Fork into the key:', `${key}-fork`);
            if (to) void post('fork', { newKey: to }).then(() => (location.hash = `#/s/${encodeURIComponent(to)}`));
          }}
        >
          Fork
        </button>
        <button onClick={() => void act(async () => download(`${key.replace(/[^\w.-]+/g, '_')}.json`, await api(`${keyPath(key)}/export`)))}>Export</button>
        <select
          name="permissionMode"
          title="permission mode"
          value={session.config.permissionMode ?? ''}
          onChange={(e) => void patch({ permissionMode: e.currentTarget.value || null })}
        >
          <option value="">default permissions</option>
          {['default', 'acceptEdits', 'plan', 'dontAsk', 'auto', 'bypassPermissions'].map((m) => (
            <option value={m}>{m}</option>
          ))}
        </select>
        <form
          class="inline"
          onSubmit={(e) => {
            e.preventDefault();
            const model = new FormData(e.currentTarget).get('model');
            void patch({ model: typeof model === 'string' && model.trim() ? model.trim() : null });
          }}
        >
          <input name="model" placeholder="model" value={session.config.model ?? ''} key={session.config.model ?? ''} />
          <button type="submit">Set model</button>
        </form>
      </div>
      <Approvals sessionKey={key} onError={props.onError} />
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
        {other && (
          <li class="turn other running">
            <div class="who">running (another client)</div>
            <div class="text reply">{other.text}</div>
          </li>
        )}
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
          void run({ prompt: text });
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
