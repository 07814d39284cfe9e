import { useState } from "react";
import { api } from "../api/client";
import { errorText } from "../lib/errors";
import { passwordProblem, refusedField, type PasswordField } from "./passwordChange";

/** Changes the password; the server then ends every other session of this user. */
export function PasswordForm({ onChanged }: { onChanged: () => void }) {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [error, setError] = useState<{ field: PasswordField; text: string } | null>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    setDone(false);
    const typo = passwordProblem(next, again);
    if (typo) return setError({ field: "new", text: typo });
    setBusy(true);
    setError(null);
    try {
      await api.changePassword(current, next);
      setCurrent("");
      setNext("");
      setAgain("");
      setDone(true);
      onChanged();
    } catch (caught) {
      setError({ field: refusedField(caught), text: errorText(caught) });
    } finally {
      setBusy(false);
    }
  };

  const message = (field: PasswordField) =>
    error?.field === field && (
      <p id={`password-error-${field}`} className="error" role="alert">
        {error.text}
      </p>
    );
  const invalid = (field: PasswordField) =>
    error?.field === field ? { "aria-invalid": true, "aria-describedby": `password-error-${field}` } : {};

  return (
    <section className="panel account-section" aria-labelledby="password-heading">
      <h2 id="password-heading">Password</h2>
      <form className="password-form" onSubmit={submit}>
        <label htmlFor="password-current">Current password</label>
        <input
          id="password-current"
          type="password"
          required
          autoComplete="current-password"
          value={current}
          onChange={(event) => setCurrent(event.target.value)}
          {...invalid("current")}
        />
        {message("current")}
        <label htmlFor="password-new">New password</label>
        <input
          id="password-new"
          type="password"
          required
          autoComplete="new-password"
          value={next}
          onChange={(event) => setNext(event.target.value)}
          {...invalid("new")}
        />
        <label htmlFor="password-again">New password again</label>
        <input
          id="password-again"
          type="password"
          required
          autoComplete="new-password"
          value={again}
          onChange={(event) => setAgain(event.target.value)}
          {...invalid("new")}
        />
        {message("new")}
        {message("form")}
        {done && (
          <p className="ok-text" role="status">
            Password changed. You are signed out everywhere else.
          </p>
        )}
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? "Changing…" : "Change password"}
        </button>
      </form>
    </section>
  );
}
