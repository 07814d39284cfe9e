import { useState } from "react";
import { signIn, useAuth } from "../auth/useAuth";
import { errorText } from "../lib/errors";
import { useTitle } from "../lib/useTitle";

/** Email and password. Once signed in, AuthGate takes the user back where they were. */
export function SignInPage() {
  useTitle("Sign in");
  const auth = useAuth();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const expired = auth.phase === "signed-out" && auth.reason === "session_expired";

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(email.trim(), password);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const describedBy = error ? "sign-in-error" : undefined;
  return (
    <section className="panel narrow sign-in">
      <h1>Sign in</h1>
      <p className="muted">
        {expired ? "Your session has ended. Sign in again to carry on where you were." : "Sign in to split and play your songs."}
      </p>
      <form onSubmit={submit}>
        <label htmlFor="sign-in-email">Email</label>
        <input
          id="sign-in-email"
          type="email"
          required
          autoComplete="username"
          inputMode="email"
          autoCapitalize="none"
          spellCheck={false}
          value={email}
          onChange={(event) => setEmail(event.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={describedBy}
        />
        <label htmlFor="sign-in-password">Password</label>
        <input
          id="sign-in-password"
          type="password"
          required
          autoComplete="current-password"
          value={password}
          onChange={(event) => setPassword(event.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={describedBy}
        />
        {error && (
          <p id="sign-in-error" className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </section>
  );
}
