import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, signIn, token } from './api.js';
import { Approvals } from './approvals.js';
import { UsageLimitBanner } from './banner.js';
import { ChartsPage } from './charts.js';
import { SessionPage } from './session.js';
import { SessionsPage } from './sessions.js';
import { SignIn } from './sign-in.js';

/** `#/` the sessions; `#/s/<key>` one session. A hash route: the daemon serves one page. */
function route(): { page: 'sessions' } | { page: 'approvals' } | { page: 'charts' } | { page: 'session'; key: string } {
  if (location.hash === '#/approvals') return { page: 'approvals' };
  if (location.hash === '#/charts') return { page: 'charts' };
  const match = /^#\/s\/(.+)$/.exec(location.hash);
  return match ? { page: 'session', key: decodeURIComponent(match[1]!) } : { page: 'sessions' };
}

function App() {
  const [where, setWhere] = useState(route());
  // null: not known yet; true: the API answers with this tab's token (or needs none).
  const [signedIn, setSignedIn] = useState<boolean | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    const onHash = (): void => setWhere(route());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  const check = (): void => {
    setSignedIn(null);
    api('/stats')
      .then(() => setSignedIn(true))
      .catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 401) {
          setProblem(token() ? 'That token was not accepted.' : null);
          setSignedIn(false);
        } else setProblem(String(err));
      });
  };
  useEffect(check, []);

  const onError = (err: unknown): void => {
    if (err instanceof ApiError && err.status === 401) {
      signIn(null);
      check();
    } else setProblem(err instanceof ApiError ? `${err.code}: ${err.message}` : String(err));
  };

  return (
    <>
      <header>
        <h1>
          <a href="#/">Tether</a>
        </h1>
        {signedIn && (
          <nav class="tabs">
            <a href="#/">Sessions</a>
            <a href="#/approvals">Approvals</a>
            <a href="#/charts">Charts</a>
          </nav>
        )}
        <span class="spacer" />
        {signedIn && token() && (
          <button
            onClick={() => {
              signIn(null);
              check();
            }}
          >
            Sign out
          </button>
        )}
      </header>
      {problem && signedIn !== false && <p class="error">{problem}</p>}
      {signedIn && <UsageLimitBanner />}
      {signedIn === null ? (
        <p class="muted">Connecting…</p>
      ) : !signedIn ? (
        <SignIn message={problem} onDone={check} />
      ) : where.page === 'approvals' ? (
        <section>
          <h2>Approvals waiting</h2>
          <Approvals onError={onError} />
        </section>
      ) : where.page === 'charts' ? (
        <ChartsPage onError={onError} />
      ) : where.page === 'session' ? (
        <SessionPage sessionKey={where.key} onError={onError} />
      ) : (
        <SessionsPage onError={onError} />
      )}
    </>
  );
}

render(<App />, document.getElementById('app')!);
