import { api, type AdminUser } from "../api/client";
import { useLoaded } from "../lib/useLoaded";
import { UserRow } from "./UserRow";
import { usersReducer } from "./users";

/** Every account, its use of its quotas, and what an admin may change about it. */
export function UsersPanel({ youId }: { youId: string }) {
  const users = useLoaded(api.adminUsers);
  const changed = (user: AdminUser) => users.setData((list) => usersReducer(list, { type: "changed", user }));
  return (
    <section className="panel account-section" aria-labelledby="users-heading">
      <h2 id="users-heading">Accounts</h2>
      {users.error && (
        <p className="error" role="alert">
          {users.error}
        </p>
      )}
      {users.data === null && !users.error && <p className="muted">Loading users…</p>}
      {users.data && (
        <table className="users-table">
          <thead>
            <tr>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Status</th>
              <th scope="col">Usage</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          {users.data.map((user) => (
            <UserRow key={user.id} user={user} isYou={user.id === youId} onChanged={changed} />
          ))}
        </table>
      )}
    </section>
  );
}
