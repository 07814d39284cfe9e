import { useState } from "react";
import { api, type AdminUser, type UserChange } from "../api/client";
import { formatTimestamp } from "../lib/format";
import { relativeTime } from "../lib/relativeTime";
import { ChangeButton } from "./ChangeButton";
import { QuotaForm } from "./QuotaForm";
import { compactUsage, confirmQuestion, roleWords } from "./users";

// Each user is a <tbody> of its own: the row, and under it the quota form when open.
// On a phone the cells stack into a card, each with its column's name (data-label).
export function UserRow({
  user,
  isYou,
  onChanged,
}: {
  user: AdminUser;
  /** The admin's own row: the server refuses to let them demote or disable themself. */
  isYou: boolean;
  onChanged: (user: AdminUser) => void;
}) {
  const [editing, setEditing] = useState(false);
  // Neither yourself nor the first admin (whose role the settings give) can lose the
  // role or be disabled: the server refuses, so the buttons are not offered.
  const locked = isYou || user.first_admin;
  const change = async (body: UserChange) => onChanged(await api.changeUser(user.id, body));

  return (
    <tbody className={user.disabled ? "user disabled" : "user"}>
      <tr>
        <th scope="row" data-label="Email">
          <span className="user-cell-email">{user.email}</span>
          {isYou && <span className="badge">You</span>}
          {user.first_admin && <span className="badge">First admin</span>}
          <span className="muted small" title={formatTimestamp(user.created_at)}>
            Joined {relativeTime(user.created_at)}
          </span>
        </th>
        <td data-label="Role">{roleWords(user)}</td>
        <td data-label="Status">{user.disabled ? <span className="error-text">Disabled</span> : "Active"}</td>
        <td data-label="Usage">
          <ul className="usage-bits">
            {compactUsage(user).map((bit) => (
              <li key={bit.label} className={bit.full ? "full" : undefined}>
                <span className="muted">{bit.label}</span> {bit.amount}
              </li>
            ))}
          </ul>
        </td>
        <td data-label="Actions">
          <div className="user-actions-cell">
            {!locked && (
              <ChangeButton
                label={user.is_admin ? "Remove admin" : "Make admin"}
                accessibleName={`${user.is_admin ? "Remove admin from" : "Make admin"} ${user.email}`}
                question={confirmQuestion(user, "admin")}
                onChange={() => change({ is_admin: !user.is_admin })}
              />
            )}
            {!locked && (
              <ChangeButton
                label={user.disabled ? "Enable" : "Disable"}
                accessibleName={`${user.disabled ? "Enable" : "Disable"} ${user.email}`}
                question={confirmQuestion(user, "disabled")}
                onChange={() => change({ disabled: !user.disabled })}
              />
            )}
            <button
              type="button"
              className="button small"
              aria-expanded={editing}
              aria-label={`Edit quotas of ${user.email}`}
              onClick={() => setEditing(!editing)}
            >
              Edit quotas
            </button>
          </div>
        </td>
      </tr>
      {editing && (
        <tr className="quota-row">
          <td colSpan={5}>
            <QuotaForm
              user={user}
              onCancel={() => setEditing(false)}
              onSaved={(saved) => {
                setEditing(false);
                onChanged(saved);
              }}
            />
          </td>
        </tr>
      )}
    </tbody>
  );
}
