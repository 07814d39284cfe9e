import { useState } from "react";
import { errorText } from "../lib/errors";

/**
 * A button for something that cannot be undone: the first press asks, the second does
 * it. The server's refusal shows right under the button that asked.
 */
export function ConfirmButton({
  label,
  accessibleName,
  question,
  confirmLabel,
  onConfirm,
}: {
  label: string;
  /** Which row the button acts on, for screen readers and tests ("Revoke laptop"). */
  accessibleName: string;
  question: string;
  confirmLabel: string;
  onConfirm: () => Promise<void>;
}) {
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      setAsking(false);
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="confirm">
      {asking ? (
        <div className="confirm-ask" role="group" aria-label={accessibleName}>
          <p>{question}</p>
          <div className="actions">
            <button type="button" className="button danger small" onClick={confirm} disabled={busy}>
              {confirmLabel}
            </button>
            {/* Focus lands on the safe choice: a second Enter must not do the harm. */}
            <button type="button" className="button small" onClick={() => setAsking(false)} disabled={busy} autoFocus>
              Cancel
            </button>
          </div>
        </div>
      ) : (
        <button type="button" className="button danger small" onClick={() => setAsking(true)} aria-label={accessibleName}>
          {label}
        </button>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
