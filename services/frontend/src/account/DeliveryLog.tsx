import { useState } from "react";
import { Link } from "react-router-dom";
import { api, type Delivery, type DeliveryPage } from "../api/client";
import { errorText } from "../lib/errors";
import { formatTimestamp } from "../lib/format";
import { relativeTime } from "../lib/relativeTime";
import { useLoaded } from "../lib/useLoaded";
import { answerWords, deliveryStatusWords, eventLabel, responseStart } from "./webhooks";

const STATUS_TONE: Record<Delivery["status"], string> = { delivered: "ok-text", failed: "error-text", pending: "" };

function DeliveryRow({ delivery, onSent }: { delivery: Delivery; onSent: (delivery: Delivery) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const answer = answerWords(delivery);
  const response = responseStart(delivery.response);
  const redeliver = async () => {
    setBusy(true);
    setError(null);
    try {
      onSent(await api.redeliver(delivery.id));
    } catch (caught) {
      setError(errorText(caught));
    } finally {
      setBusy(false);
    }
  };
  return (
    <li className={`account-row delivery delivery-${delivery.status}`} data-testid="delivery">
      <div className="account-row-main">
        <span className="account-row-title">
          {eventLabel(delivery.event)}
          {delivery.job_id && (
            <>
              {" · "}
              <Link to={`/jobs/${encodeURIComponent(delivery.job_id)}`}>open the job</Link>
            </>
          )}
        </span>
        <span className={`small ${STATUS_TONE[delivery.status]}`}>
          {deliveryStatusWords(delivery)}
          {answer && ` · ${answer}`}
        </span>
        <span className="muted small" title={formatTimestamp(delivery.created_at)}>
          Sent {relativeTime(delivery.created_at)}
        </span>
        {response && <span className="mono small delivery-response">{response}</span>}
        {error && (
          <span className="error" role="alert">
            {error}
          </span>
        )}
      </div>
      <button
        type="button"
        className="button small"
        onClick={redeliver}
        disabled={busy}
        aria-label={`Redeliver ${eventLabel(delivery.event)} sent ${relativeTime(delivery.created_at)}`}
      >
        {busy ? "Sending…" : "Redeliver"}
      </button>
    </li>
  );
}

/**
 * The latest deliveries of one endpoint (or of the callbacks), newest first, each with a
 * Redeliver button. `load` must be a stable function.
 */
export function DeliveryLog({ load }: { load: () => Promise<DeliveryPage> }) {
  const page = useLoaded<DeliveryPage>(load);
  const sent = (again: Delivery) =>
    page.setData((current) => current && { ...current, data: current.data.map((d) => (d.id === again.id ? again : d)) });
  return (
    <div className="delivery-log">
      <div className="delivery-log-head">
        <h4>Recent deliveries</h4>
        <button type="button" className="button small" onClick={page.reload}>
          Refresh
        </button>
      </div>
      {page.error && (
        <p className="error" role="alert">
          {page.error}
        </p>
      )}
      {page.data === null && !page.error && <p className="muted small">Loading deliveries…</p>}
      {page.data?.data.length === 0 && <p className="muted small">Nothing sent yet. Deliveries show here as songs finish.</p>}
      {page.data && page.data.data.length > 0 && (
        <ul className="account-rows" aria-label="Recent deliveries">
          {page.data.data.map((delivery) => (
            <DeliveryRow key={delivery.id} delivery={delivery} onSent={sent} />
          ))}
        </ul>
      )}
      {page.data && page.data.count > page.data.data.length && (
        <p className="muted small">
          The latest {page.data.data.length} of {page.data.count}.
        </p>
      )}
    </div>
  );
}
