import { useState } from "react";
import { ConfirmButton } from "../account/ConfirmButton";
import { errorText } from "../lib/errors";

/**
 * One change to a user: asked about first when `question` says so (ConfirmButton),
 * otherwise made at once. The server's refusal (409: not yourself, not the first admin)
 * shows under the button.
 */
export function ChangeButton({
  label,
  accessibleName,
  question,
  onChange,
}: {
  label: string;
  accessibleName: string;
  question: string | null;
  onChange: () => Promise<void>;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (question) {
    return (
      <ConfirmButton label={label} accessibleName={accessibleName} question={question} confirmLabel={`Yes, ${label.toLowerCase()}`} onConfirm={onChange} />
    );
  }

  const change = async () => {
    setBusy(true);
    setError(null);
    try {
      await onChange();
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="confirm">
      <button type="button" className="button small" onClick={change} disabled={busy} aria-label={accessibleName}>
        {label}
      </button>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
