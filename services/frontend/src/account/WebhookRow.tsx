import { useCallback, useState } from "react";
import { api, type Webhook } from "../api/client";
import { formatTimestamp } from "../lib/format";
import { relativeTime } from "../lib/relativeTime";
import { ConfirmButton } from "./ConfirmButton";
import { DeliveryLog } from "./DeliveryLog";
import { eventWords, RECENT_DELIVERIES } from "./webhooks";

/** One endpoint: where, what for, whether it is failing; its log one click away. */
export function WebhookRow({ webhook, onDeleted }: { webhook: Webhook; onDeleted: (id: string) => void }) {
  const [open, setOpen] = useState(false);
  const logId = `deliveries-${webhook.id}`;
  const load = useCallback(() => api.deliveries(webhook.id, RECENT_DELIVERIES), [webhook.id]);
  return (
    <li className="account-row webhook" data-testid="webhook">
      <div className="webhook-top">
        <div className="account-row-main">
          <span className="account-row-title mono">{webhook.url}</span>
          {webhook.failing && (
            <span className="failing-badge" role="status">
              {webhook.failing_since ? (
                <span title={formatTimestamp(webhook.failing_since)}>
                  Failing since {relativeTime(webhook.failing_since)}
                </span>
              ) : (
                "Failing"
              )}
              : its last deliveries did not get through. Check your receiver, then redeliver.
            </span>
          )}
          <span className="small">{eventWords(webhook.events)}</span>
          {webhook.description && <span className="muted small">{webhook.description}</span>}
          <span className="muted small" title={formatTimestamp(webhook.created_at)}>
            Added {relativeTime(webhook.created_at)}
          </span>
        </div>
        <div className="webhook-actions">
          <button
            type="button"
            className="button small"
            aria-expanded={open}
            aria-controls={logId}
            onClick={() => setOpen(!open)}
            aria-label={`${open ? "Hide" : "Show"} deliveries to ${webhook.url}`}
          >
            {open ? "Hide deliveries" : "Deliveries"}
          </button>
          <ConfirmButton
            label="Delete"
            accessibleName={`Delete webhook ${webhook.url}`}
            question={`Stop sending to ${webhook.url} and delete it with its log?`}
            confirmLabel="Yes, delete"
            onConfirm={async () => {
              await api.deleteWebhook(webhook.id);
              onDeleted(webhook.id);
            }}
          />
        </div>
      </div>
      {open && (
        <div id={logId}>
          <DeliveryLog load={load} />
        </div>
      )}
    </li>
  );
}
