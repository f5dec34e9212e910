import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api.js';
import { useEvents } from './events.js';
import { percent, tokensOf, usd, when, type Session } from './types.js';

const PAGE = 50;

interface Filters {
  q: string;
  status: string;
  backend: string;
  label: string;
  offset: number;
}

const NO_FILTERS: Filters = { q: '', status: '', backend: '', label: '', offset: 0 };

/** The tenant's sessions, most recently active first, filtered and paged by the daemon. */
export function SessionsPage(props: { onError: (err: unknown) => void }) {
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [sessions, setSessions] = useState<Session[] | null>(null);
  const [version, setVersion] = useState(0);
  // Turns and session changes move rows; one re-read per second at most, however busy.
  const waiting = useRef(false);
  useEvents((type) => {
    if (waiting.current || type === 'text.delta' || type === 'message' || type.startsWith('tool.')) return;
    waiting.current = true;
    setTimeout(() => {
      waiting.current = false;
      setVersion((v) => v + 1);
    }, 1000);
  });

  useEffect(() => {
    const query = new URLSearchParams({ limit: String(PAGE + 1), offset: String(filters.offset) });
    if (filters.q) query.set('q', filters.q);
    if (filters.status) query.set('status', filters.status);
    if (filters.backend) query.set('backend', filters.backend);
    if (filters.label) query.set('label', filters.label);
    let stale = false;
    api<{ sessions: Session[] }>(`/sessions?${query}`)
      .then((r) => !stale && setSessions(r.sessions))
      .catch(props.onError);
    return () => void (stale = true);
  }, [filters, version]);

  const page = sessions?.slice(0, PAGE) ?? [];
  const more = (sessions?.length ?? 0) > PAGE;
  return (
    <section>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters({ ...draft, offset: 0 });
        }}
      >
        <input name="q" type="search" placeholder="key starts with…" value={draft.q} onInput={(e) => setDraft({ ...draft, q: e.currentTarget.value })} />
        <select name="status" value={draft.status} onChange={(e) => setDraft({ ...draft, status: e.currentTarget.value })}>
          <option value="">any status</option>
          {['idle', 'running', 'expired', 'closed', 'error'].map((s) => (
            <option value={s}>{s}</option>
          ))}
        </select>
        <select name="backend" value={draft.backend} onChange={(e) => setDraft({ ...draft, backend: e.currentTarget.value })}>
          <option value="">any agent</option>
          <option value="claude">claude</option>
          <option value="codex">codex</option>
        </select>
        <input name="label" placeholder="label, e.g. user=ada" value={draft.label} onInput={(e) => setDraft({ ...draft, label: e.currentTarget.value })} />
        <button type="submit">Filter</button>
      </form>
      {sessions === null ? (
        <p class="muted">Loading…</p>
      ) : page.length === 0 ? (
        <p class="muted">No sessions{filters.q || filters.status || filters.backend || filters.label ? ' match' : ' yet'}.</p>
      ) : (
        <table class="sessions">
          <thead>
            <tr>
              <th>key</th>
              <th>status</th>
              <th>backend</th>
              <th class="num">turns</th>
              <th class="num">context</th>
              <th class="num">tokens</th>
              <th class="num">cost</th>
              <th class="num">queued</th>
              <th>last active</th>
            </tr>
          </thead>
          <tbody>
            {page.map((s) => (
              <tr key={s.id}>
                <td class="key">
                  <a href={`#/s/${encodeURIComponent(s.key)}`}>{s.key}</a>
                </td>
                <td>
                  <span class={`status ${s.status}`}>{s.status}</span>
                </td>
                <td>{s.backend}</td>
                <td class="num">{s.turns}</td>
                <td class="num">{percent(s.context.ratio)}</td>
                <td class="num">{tokensOf(s.usage).toLocaleString()}</td>
                <td class="num">{usd(s.usage.costUsd)}</td>
                <td class="num">{s.queued}</td>
                <td>{when(s.lastActiveAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div class="pager">
        <button disabled={filters.offset === 0} onClick={() => setFilters({ ...filters, offset: Math.max(0, filters.offset - PAGE) })}>
          Newer
        </button>
        <span class="muted">
          {page.length > 0 ? `${filters.offset + 1}–${filters.offset + page.length}` : ''}
        </span>
        <button disabled={!more} onClick={() => setFilters({ ...filters, offset: filters.offset + PAGE })}>
          Older
        </button>
      </div>
    </section>
  );
}
