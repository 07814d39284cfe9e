import { useState } from "react";
import { api, type AccountSession } from "../api/client";
import { signOut, signOutEverywhere } from "../auth/useAuth";
import { errorText } from "../lib/errors";
import { formatTimestamp } from "../lib/format";
import { relativeTime } from "../lib/relativeTime";
import type { Loaded } from "../lib/useLoaded";
import { ConfirmButton } from "./ConfirmButton";
import { lastSeenText, sessionsInOrder } from "./sessions";
import { describeUserAgent } from "./userAgent";

function SessionRow({ session, onEnded }: { session: AccountSession; onEnded: (id: string) => void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const device = describeUserAgent(session.user_agent);

  const end = async () => {
    setBusy(true);
    setError(null);
    try {
      // This browser's own session: signing out here also takes the app to sign-in.
      if (session.current) await signOut();
      else {
        await api.endSession(session.id);
        onEnded(session.id);
      }
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <li className={session.current ? "account-row current" : "account-row"}>
      <div className="account-row-main">
        <span className="account-row-title" title={session.user_agent ?? undefined}>
          {device}
          {session.current && <span className="badge">This device</span>}
        </span>
        <span className="muted small">
          <span title={formatTimestamp(session.last_seen_at)}>{lastSeenText(session)}</span>
          {session.ip && ` · ${session.ip}`}
        </span>
        <span className="muted small" title={formatTimestamp(session.created_at)}>
          Signed in {relativeTime(session.created_at)}
        </span>
      </div>
      <div className="confirm">
        <button
          type="button"
          className="button small"
          onClick={end}
          disabled={busy}
          aria-label={session.current ? "Sign out on this device" : `Sign out ${device}`}
        >
          Sign out
        </button>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
      </div>
    </li>
  );
}

/** Where the account is signed in; any one session, or all of them, can be ended. */
export function SessionsPanel({ sessions }: { sessions: Loaded<AccountSession[]> }) {
  const ended = (id: string) => sessions.setData((list) => list?.filter((session) => session.id !== id) ?? null);
  return (
    <section className="panel account-section" aria-labelledby="sessions-heading">
      <h2 id="sessions-heading">Where you are signed in</h2>
      {sessions.error && (
        <p className="error" role="alert">
          {sessions.error}
        </p>
      )}
      {sessions.data === null && !sessions.error && <p className="muted">Loading sessions…</p>}
      {sessions.data && (
        <ul className="account-rows" aria-label="Your sessions">
          {sessionsInOrder(sessions.data).map((session) => (
            <SessionRow key={session.id} session={session} onEnded={ended} />
          ))}
        </ul>
      )}
      <ConfirmButton
        label="Sign out everywhere"
        accessibleName="Sign out everywhere"
        question="Sign out on every device, this one too? Your API tokens keep working."
        confirmLabel="Yes, sign out everywhere"
        onConfirm={signOutEverywhere}
      />
    </section>
  );
}
