import { api } from "../api/client";
import { useLoaded } from "../lib/useLoaded";
import { CallbackSecretRow } from "./CallbackSecretRow";
import { NewWebhookForm } from "./NewWebhookForm";
import { WebhookRow } from "./WebhookRow";

/** Other programs told when a song is done: endpoints, their logs, and the callbacks' secret. */
export function WebhooksPanel() {
  const webhooks = useLoaded(api.webhooks);
  const removed = (id: string) => webhooks.setData((list) => list?.filter((webhook) => webhook.id !== id) ?? null);
  return (
    <section className="panel account-section" aria-labelledby="webhooks-heading">
      <h2 id="webhooks-heading">Webhooks</h2>
      <p className="muted">
        Let another program know when your songs finish or fail: an automation tool, a home server, your own script.
      </p>
      <h3>Your webhooks</h3>
      {webhooks.error && (
        <p className="error" role="alert">
          {webhooks.error}
        </p>
      )}
      {webhooks.data === null && !webhooks.error && <p className="muted">Loading webhooks…</p>}
      {webhooks.data?.length === 0 && <p className="muted">No webhooks yet.</p>}
      {webhooks.data && webhooks.data.length > 0 && (
        <ul className="account-rows" aria-label="Your webhooks">
          {webhooks.data.map((webhook) => (
            <WebhookRow key={webhook.id} webhook={webhook} onDeleted={removed} />
          ))}
        </ul>
      )}
      <NewWebhookForm onCreated={webhooks.reload} />
      <CallbackSecretRow />
    </section>
  );
}
