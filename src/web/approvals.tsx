import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { useEvents } from './events.js';
import { when } from './types.js';

export interface Approval {
  id: string;
  key: string;
  turnId: string;
  tool: string;
  title: string | null;
  input: unknown;
  status: string;
  requestedAt: string;
  expiresAt: string;
}

/** The pending approvals of the tenant (or of one key), each decided here: allow, allow for the session, deny. */
export function Approvals(props: { sessionKey?: string; onError: (err: unknown) => void; onDecided?: () => void }) {
  const [pending, setPending] = useState<Approval[]>([]);
  const [version, setVersion] = useState(0);
  useEvents((type) => {
    if (type.startsWith('approval.') || type === 'reconnected') setVersion((v) => v + 1);
  });
  useEffect(() => {
    const query = new URLSearchParams({ status: 'pending' });
    if (props.sessionKey) query.set('key', props.sessionKey);
    let stale = false;
    api<{ approvals: Approval[] }>(`/approvals?${query}`)
      .then((r) => !stale && setPending(r.approvals))
      .catch(props.onError);
    return () => void (stale = true);
  }, [version, props.sessionKey]);

  const decide = (a: Approval, decision: 'allow' | 'deny', remember = false): void => {
    const message = decision === 'deny' ? (window.prompt(`Why deny ${a.tool}? (told to the agent)`) ?? undefined) : undefined;
    api(`/approvals/${encodeURIComponent(a.id)}`, { method: 'POST', body: { decision, ...(message ? { message } : {}), ...(remember ? { remember: 'session' } : {}) } })
      .then(() => props.onDecided?.())
      .catch(props.onError)
      .finally(() => setVersion((v) => v + 1));
  };

  if (pending.length === 0) return props.sessionKey ? null : <p class="muted">No approvals are waiting.</p>;
  return (
    <ol class="approvals">
      {pending.map((a) => (
        <li key={a.id} class="approval">
          <div class="who">
            {props.sessionKey ? '' : <a href={`#/s/${encodeURIComponent(a.key)}`}>{a.key}</a>} asks to use <strong>{a.tool}</strong> · expires {when(a.expiresAt)}
          </div>
          <pre class="input">{JSON.stringify(a.input, null, 2)}</pre>
          <div class="actions">
            <button class="primary" onClick={() => decide(a, 'allow')}>
              Allow
            </button>
            <button onClick={() => decide(a, 'allow', true)}>Allow for this session</button>
            <button onClick={() => decide(a, 'deny')}>Deny</button>
          </div>
        </li>
      ))}
    </ol>
  );
}
