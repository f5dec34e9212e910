import { useState } from 'preact/hooks';
import { signIn } from './api.js';

/** Asks for an API token (a TETHER_TOKENS token); the daemon decides the tenant from it. */
export function SignIn(props: { message: string | null; onDone: () => void }) {
  const [value, setValue] = useState('');
  return (
    <section>
      <h2>Sign in</h2>
      <p class="muted">This daemon needs an API token (one of TETHER_TOKENS). It is kept in this tab only.</p>
      {props.message && <p class="error">{props.message}</p>}
      <form
        class="sign-in"
        onSubmit={(e) => {
          e.preventDefault();
          signIn(value.trim());
          props.onDone();
        }}
      >
        <input type="password" name="token" placeholder="API token" autocomplete="off" value={value} onInput={(e) => setValue(e.currentTarget.value)} required />
        <button class="primary" type="submit">Sign in</button>
      </form>
    </section>
  );
}
