import { api, type Invite } from "../api/client";
import { ConfirmButton } from "../account/ConfirmButton";
import { formatTimestamp } from "../lib/format";
import { relativeTime } from "../lib/relativeTime";
import { useLoaded } from "../lib/useLoaded";
import { InviteForm } from "./InviteForm";

function InviteRow({ invite, onRevoked }: { invite: Invite; onRevoked: (id: string) => void }) {
  return (
    <li className="account-row">
      <div className="account-row-main">
        <span className="account-row-title">
          {invite.email}
          {invite.is_admin && <span className="badge">Admin</span>}
        </span>
        <span className="muted small" title={formatTimestamp(invite.expires_at)}>
          Link stops working {relativeTime(invite.expires_at)}
        </span>
      </div>
      <ConfirmButton
        label="Revoke"
        accessibleName={`Revoke invite for ${invite.email}`}
        question={`Revoke the invite for ${invite.email}? Their link stops working.`}
        confirmLabel="Yes, revoke"
        onConfirm={async () => {
          await api.revokeInvite(invite.id);
          onRevoked(invite.id);
        }}
      />
    </li>
  );
}

/** New invites, and the ones nobody has used yet. */
export function InvitesPanel() {
  const invites = useLoaded(api.invites);
  const revoked = (id: string) => invites.setData((list) => list?.filter((invite) => invite.id !== id) ?? null);
  return (
    <section className="panel account-section" aria-labelledby="invites-heading">
      <h2 id="invites-heading">Invite someone</h2>
      <InviteForm onCreated={invites.reload} />
      <h3>Waiting to be used</h3>
      {invites.error && (
        <p className="error" role="alert">
          {invites.error}
        </p>
      )}
      {invites.data === null && !invites.error && <p className="muted">Loading invites…</p>}
      {invites.data?.length === 0 && <p className="muted">No invites waiting.</p>}
      {invites.data && invites.data.length > 0 && (
        <ul className="account-rows" aria-label="Invites waiting to be used">
          {invites.data.map((invite) => (
            <InviteRow key={invite.id} invite={invite} onRevoked={revoked} />
          ))}
        </ul>
      )}
    </section>
  );
}
