import { useReducer, useState } from "react";
import { api } from "../api/client";
import { errorText } from "../lib/errors";
import { InviteReveal } from "./InviteReveal";
import { INITIAL_INVITE_FORM, INVITE_EXPIRY_CHOICES, inviteEmailProblem, inviteFormReducer } from "./inviteLink";

/** Invites someone by email, then shows the link once in place of the form. */
export function InviteForm({ onCreated }: { onCreated: () => void }) {
  const [email, setEmail] = useState("");
  const [admin, setAdmin] = useState(false);
  // A few days: long enough to reach someone, short enough that a forgotten link dies.
  const [hours, setHours] = useState(72);
  const [state, dispatch] = useReducer(inviteFormReducer, INITIAL_INVITE_FORM);

  if (state.phase === "shown") {
    return (
      <InviteReveal
        invite={state.invite}
        copy={state.copy}
        onCopied={(result) => dispatch({ type: "copied", result })}
        onDone={() => dispatch({ type: "done" })}
      />
    );
  }

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    const problem = inviteEmailProblem(email);
    if (problem) return dispatch({ type: "failed", error: problem });
    dispatch({ type: "submit" });
    try {
      const invite = await api.createInvite({ email: email.trim(), is_admin: admin, expires_hours: hours });
      dispatch({ type: "created", invite });
      setEmail("");
      setAdmin(false);
      onCreated();
    } catch (caught) {
      dispatch({ type: "failed", error: errorText(caught) });
    }
  };

  const invalid = state.error ? { "aria-invalid": true, "aria-describedby": "invite-error" } : {};
  return (
    <form className="token-form invite-form" onSubmit={submit} noValidate>
      <label htmlFor="invite-email">Email</label>
      <input
        id="invite-email"
        type="email"
        inputMode="email"
        autoCapitalize="none"
        spellCheck={false}
        autoComplete="off"
        value={email}
        onChange={(event) => setEmail(event.target.value)}
        {...invalid}
      />
      <label className="check">
        <input type="checkbox" checked={admin} onChange={(event) => setAdmin(event.target.checked)} />
        <span>
          <span className="check-label">Admin</span>
          <span className="hint">Sees every user's jobs and this page.</span>
        </span>
      </label>
      <label htmlFor="invite-expiry">Link stops working</label>
      <select id="invite-expiry" value={hours} onChange={(event) => setHours(Number(event.target.value))}>
        {INVITE_EXPIRY_CHOICES.map((choice) => (
          <option key={choice.hours} value={choice.hours}>
            {choice.label}
          </option>
        ))}
      </select>
      {state.error && (
        <p id="invite-error" className="error" role="alert">
          {state.error}
        </p>
      )}
      <button type="submit" className="button primary" disabled={state.busy}>
        {state.busy ? "Inviting…" : "Invite"}
      </button>
    </form>
  );
}
