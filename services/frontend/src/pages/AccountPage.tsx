import { api } from "../api/client";
import { PasswordForm } from "../account/PasswordForm";
import { SessionsPanel } from "../account/SessionsPanel";
import { TokensPanel } from "../account/TokensPanel";
import { UsagePanel } from "../account/UsagePanel";
import { WebhooksPanel } from "../account/WebhooksPanel";
import { useAuth } from "../auth/useAuth";
import { useLoaded } from "../lib/useLoaded";
import { useTitle } from "../lib/useTitle";

/** The signed-in user's own account: usage, API tokens, webhooks, sessions and password. */
export function AccountPage() {
  useTitle("Account");
  const auth = useAuth();
  // Here, not in the panel: a new password ends the other sessions, and the list must say so.
  const sessions = useLoaded(api.sessions);
  return (
    <div className="page account">
      <div>
        <h1>Account</h1>
        {auth.phase === "signed-in" && <p className="muted account-email">{auth.user.email}</p>}
      </div>
      <UsagePanel />
      <TokensPanel />
      <WebhooksPanel />
      <SessionsPanel sessions={sessions} />
      <PasswordForm onChanged={sessions.reload} />
    </div>
  );
}
