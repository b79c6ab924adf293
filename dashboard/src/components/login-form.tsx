/**
 * Exchanges a key for a session cookie (POST /admin/session or /me/session). The key lives only
 * in this form's input until it is sent; nothing stores it.
 */
import { useState } from 'preact/hooks';
import { api, ApiError } from '../api.js';

export function LoginForm(props: { endpoint: string; label: string; title: string; onDone: () => void }) {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: SubmitEvent) => {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const input = form.elements.namedItem('key') as HTMLInputElement;
    setBusy(true);
    setError(undefined);
    try {
      await api('POST', props.endpoint, { key: input.value.trim() });
      input.value = '';
      props.onDone();
    } catch (err) {
      // The bridge's own words: "Invalid admin key", "Too many failed authentications...",
      // "The admin API is disabled...".
      setError(
        err instanceof ApiError ? err.message : `Could not reach the bridge: ${(err as Error).message}`,
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form onSubmit={submit} class="card">
        <h1>{props.title}</h1>
        <label>
          {props.label}
          <input name="key" type="password" autocomplete="off" required autofocus />
        </label>
        <button type="submit" disabled={busy}>
          Log in
        </button>
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        <p class="hint">The key is exchanged for a session cookie; the browser does not keep the key.</p>
      </form>
    </main>
  );
}
