import { useState } from "react";
import { NavLink } from "react-router-dom";
import { errorText } from "../lib/errors";
import { ACCOUNT_PATH } from "./session";
import { signOut, useAuth } from "./useAuth";

/** Who is signed in, their account, and the way out; nothing at all when the server has no accounts. */
export function UserMenu() {
  const auth = useAuth();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (auth.phase !== "signed-in") return null;

  const leave = async () => {
    setBusy(true);
    setError(null);
    try {
      await signOut();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="user-menu">
      <span className="user-email" title={auth.user.email} data-testid="user-email">
        {auth.user.email}
      </span>
      <div className="user-actions">
        <NavLink to={ACCOUNT_PATH} className="button small">
          Account
        </NavLink>
        <button type="button" className="button small" onClick={leave} disabled={busy}>
          Sign out
        </button>
      </div>
      {error && (
        <p className="error user-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
