import { useState } from "react";
import { Link, useLocation, useNavigate } from "react-router-dom";
import { invitePasswordProblem, inviteRefusal, inviteToken, type InviteRefusal } from "../auth/invite";
import { SIGN_IN_PATH } from "../auth/session";
import { acceptInvite } from "../auth/useAuth";
import { errorText } from "../lib/errors";
import { useTitle } from "../lib/useTitle";

/** Where an invite link lands: choose a password, and the new account is signed in. */
export function InvitePage() {
  useTitle("Accept invite");
  const location = useLocation();
  const navigate = useNavigate();
  const token = inviteToken(location.hash);
  const [password, setPassword] = useState("");
  const [again, setAgain] = useState("");
  const [refusal, setRefusal] = useState<InviteRefusal | null>(null);
  const [busy, setBusy] = useState(false);

  if (!token) {
    return (
      <section className="panel narrow sign-in">
        <h1>Accept invite</h1>
        <p className="error" role="alert">
          This link has no invite in it. Open the whole link you were sent, or ask for a new one.
        </p>
      </section>
    );
  }

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    const typo = invitePasswordProblem(password, again);
    if (typo) return setRefusal({ text: typo, field: "password", signIn: false });
    setBusy(true);
    setRefusal(null);
    try {
      await acceptInvite(token, password);
      // Replacing the entry keeps the used link out of the back button.
      void navigate("/jobs", { replace: true });
    } catch (caught) {
      setRefusal(inviteRefusal(caught, errorText(caught)));
      setBusy(false);
    }
  };

  const onPassword = refusal?.field === "password";
  const invalid = onPassword ? { "aria-invalid": true, "aria-describedby": "invite-error" } : {};
  return (
    <section className="panel narrow sign-in">
      <h1>Accept invite</h1>
      <p className="muted">You have been invited to Stemdeck. Choose a password to make your account.</p>
      <form onSubmit={submit}>
        <label htmlFor="invite-password">Password</label>
        <input
          id="invite-password"
          type="password"
          required
          autoComplete="new-password"
          value={password}
          onChange={(event) => setPassword(event.target.value)}
          {...invalid}
        />
        <label htmlFor="invite-password-again">Password again</label>
        <input
          id="invite-password-again"
          type="password"
          required
          autoComplete="new-password"
          value={again}
          onChange={(event) => setAgain(event.target.value)}
          {...invalid}
        />
        {refusal && (
          <p id="invite-error" className="error" role="alert">
            {refusal.text}
          </p>
        )}
        {refusal?.signIn && (
          <p>
            <Link to={SIGN_IN_PATH}>Go to sign-in</Link>
          </p>
        )}
        <button type="submit" className="button primary" disabled={busy}>
          {busy ? "Making your account…" : "Make my account"}
        </button>
      </form>
    </section>
  );
}
