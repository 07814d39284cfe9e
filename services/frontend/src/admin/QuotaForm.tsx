import { useState } from "react";
import { api, type AdminUser } from "../api/client";
import { errorText } from "../lib/errors";
import { parseQuotaDraft, QUOTA_FIELDS, quotaDraft, type QuotaDraft, type QuotaKey } from "./quotaForm";

/** A user's own quotas, edited in place; an empty field puts the server's default back. */
export function QuotaForm({
  user,
  onSaved,
  onCancel,
}: {
  user: AdminUser;
  onSaved: (user: AdminUser) => void;
  onCancel: () => void;
}) {
  const [draft, setDraft] = useState<QuotaDraft>(() => quotaDraft(user.quotas));
  const [errors, setErrors] = useState<Partial<Record<QuotaKey, string>>>({});
  const [refused, setRefused] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    const parsed = parseQuotaDraft(draft);
    setRefused(null);
    if (!parsed.ok) return setErrors(parsed.errors);
    setErrors({});
    setBusy(true);
    try {
      onSaved(await api.changeUser(user.id, { quotas: parsed.quotas }));
    } catch (caught) {
      setRefused(errorText(caught));
      setBusy(false);
    }
  };

  // Ids carry the user's: several rows' forms may be open at once.
  const id = (key: string) => `quota-${user.id}-${key}`;
  return (
    <form className="quota-form" onSubmit={submit} noValidate aria-label={`Quotas of ${user.email}`}>
      <p id={id("hint")} className="hint">
        Leave a field empty for the server's default, or type “unlimited” for no limit.
      </p>
      <div className="quota-fields">
        {QUOTA_FIELDS.map((field) => (
          <div key={field.key} className="quota-field">
            <label htmlFor={id(field.key)}>
              {field.label} <span className="muted small">({field.unit})</span>
            </label>
            <input
              id={id(field.key)}
              inputMode="numeric"
              autoComplete="off"
              value={draft[field.key]}
              onChange={(event) => setDraft({ ...draft, [field.key]: event.target.value })}
              aria-invalid={errors[field.key] ? true : undefined}
              aria-describedby={errors[field.key] ? `${id(field.key)}-error ${id("hint")}` : id("hint")}
            />
            {errors[field.key] && (
              <p id={`${id(field.key)}-error`} className="error" role="alert">
                {errors[field.key]}
              </p>
            )}
          </div>
        ))}
      </div>
      {refused && (
        <p className="error" role="alert">
          {refused}
        </p>
      )}
      <div className="actions">
        <button type="submit" className="button primary small" disabled={busy}>
          {busy ? "Saving…" : "Save quotas"}
        </button>
        <button type="button" className="button small" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}
