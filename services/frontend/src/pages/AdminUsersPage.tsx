import { InvitesPanel } from "../admin/InvitesPanel";
import { UsersPanel } from "../admin/UsersPanel";
import { useAuth } from "../auth/useAuth";
import { useTitle } from "../lib/useTitle";

/** For admins: every user (role, disabled, quotas) and invites for new ones. */
export function AdminUsersPage() {
  useTitle("Users");
  const auth = useAuth();
  // main.tsx routes here only for a signed-in admin.
  if (auth.phase !== "signed-in") return null;
  return (
    <div className="page admin-users">
      <h1>Users</h1>
      <UsersPanel youId={auth.user.id} />
      <InvitesPanel />
    </div>
  );
}
