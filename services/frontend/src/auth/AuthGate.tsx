import { useEffect, type ReactNode } from "react";
import { useLocation, useNavigate } from "react-router-dom";
import { authRedirect } from "./session";
import { checkSession, useAuth } from "./useAuth";

/** How often to ask again who this is while the server cannot say (it is down, say). */
const RECHECK_MS = 10_000;

/**
 * Shows the pages only to someone who may use them: sends the browser to sign-in when
 * the session is gone (whichever API call found out), and back where it was after.
 */
export function AuthGate({ children }: { children: ReactNode }) {
  const auth = useAuth();
  const location = useLocation();
  const navigate = useNavigate();
  const target = authRedirect(auth, location);

  useEffect(() => {
    if (target) void navigate(target, { replace: true });
  }, [target, navigate]);

  useEffect(() => {
    if (auth.phase === "checking") void checkSession();
    if (auth.phase !== "unknown") return;
    const timer = window.setInterval(() => void checkSession(), RECHECK_MS);
    return () => window.clearInterval(timer);
  }, [auth.phase]);

  if (auth.phase === "checking") {
    return (
      <p className="muted" role="status">
        Loading…
      </p>
    );
  }
  // The page being left must not render meanwhile: it would ask the API in vain.
  return target ? null : children;
}
