import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { percent, tokensOf, usd, when, type Session } from './types.js';

const PAGE = 50;

interface Filters {
  status: string;
  label: string;
  offset: number;
}

/** The tenant's sessions, most recently active first, filtered and paged by the daemon. */
export function SessionsPage(props: { onError: (err: unknown) => void }) {
  const [filters, setFilters] = useState<Filters>({ status: '', label: '', offset: 0 });
  const [draft, setDraft] = useState({ status: '', label: '' });
  const [sessions, setSessions] = useState<Session[] | null>(null);

  useEffect(() => {
    const query = new URLSearchParams({ limit: String(PAGE + 1), offset: String(filters.offset) });
    if (filters.status) query.set('status', filters.status);
    if (filters.label) query.set('label', filters.label);
    let stale = false;
    api<{ sessions: Session[] }>(`/sessions?${query}`)
      .then((r) => !stale && setSessions(r.sessions))
      .catch(props.onError);
    return () => void (stale = true);
  }, [filters]);

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
        <select name="status" value={draft.status} onChange={(e) => setDraft({ ...draft, status: e.currentTarget.value })}>
          <option value="">any status</option>
          {['idle', 'running', 'expired', 'closed', 'error'].map((s) => (
            <option value={s}>{s}</option>
          ))}
        </select>
        <input name="label" placeholder="label, e.g. user=ada" value={draft.label} onInput={(e) => setDraft({ ...draft, label: e.currentTarget.value })} />
        <button type="submit">Filter</button>
      </form>
      {sessions === null ? (
        <p class="muted">Loading…</p>
      ) : page.length === 0 ? (
        <p class="muted">No sessions{filters.status || filters.label ? ' match' : ' yet'}.</p>
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
