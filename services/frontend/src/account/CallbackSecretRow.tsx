import { useState } from "react";
import { api } from "../api/client";
import { errorText } from "../lib/errors";
import { DeliveryLog } from "./DeliveryLog";
import { SecretReveal } from "./SecretReveal";
import { RECENT_DELIVERIES } from "./webhooks";

const loadCallbackDeliveries = () => api.callbackDeliveries(RECENT_DELIVERIES);

/** The one secret that signs deliveries to the callback_url a script gives a job. */
export function CallbackSecretRow() {
  const [secret, setSecret] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState(false);

  const make = async () => {
    setBusy(true);
    setError(null);
    try {
      setSecret((await api.rotateCallbackSecret()).secret);
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="callback-secret" aria-labelledby="callback-secret-heading" role="group">
      <h3 id="callback-secret-heading">Secret for job callbacks</h3>
      <p className="muted">
        A script can ask for one song’s news at its own address (callback_url). Those messages are signed with this
        secret. A new one replaces the old one at once, so give it to your receiver straight away.
      </p>
      {secret ? (
        <SecretReveal
          id="callback-secret"
          heading="New callback secret made."
          secret={secret}
          lost="If you lose it, make a new one here and give that to your receiver."
          onDone={() => setSecret(null)}
        />
      ) : (
        <div className="actions">
          <button type="button" className="button" onClick={make} disabled={busy}>
            {busy ? "Making…" : "Make a new callback secret"}
          </button>
          <button
            type="button"
            className="button"
            aria-expanded={open}
            aria-controls="callback-deliveries"
            onClick={() => setOpen(!open)}
          >
            {open ? "Hide callback deliveries" : "Callback deliveries"}
          </button>
        </div>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      {open && (
        <div id="callback-deliveries">
          <DeliveryLog load={loadCallbackDeliveries} />
        </div>
      )}
    </div>
  );
}
