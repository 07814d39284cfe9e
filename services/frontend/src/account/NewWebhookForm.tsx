import { useState } from "react";
import { api, type CreatedWebhook } from "../api/client";
import { errorText } from "../lib/errors";
import { SecretReveal } from "./SecretReveal";
import {
  EMPTY_WEBHOOK,
  EVENT_CHOICES,
  webhookProblem,
  webhookRequest,
  withEvent,
  type WebhookDraft,
  type WebhookField,
} from "./webhooks";

/** Adds an endpoint, then shows its secret once in place of the form. */
export function NewWebhookForm({ onCreated }: { onCreated: (webhook: CreatedWebhook) => void }) {
  const [draft, setDraft] = useState<WebhookDraft>(EMPTY_WEBHOOK);
  const [error, setError] = useState<{ field: WebhookField; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  // Only here, until "Done": the server keeps no copy it would show again.
  const [secret, setSecret] = useState<{ url: string; secret: string } | null>(null);

  if (secret) {
    return (
      <SecretReveal
        id="webhook-secret"
        heading={`Webhook to ${secret.url} added.`}
        secret={secret.secret}
        lost="If you lose it, delete this webhook and add it again: that makes a new secret."
        onDone={() => setSecret(null)}
      />
    );
  }

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    const problem = webhookProblem(draft);
    setError(problem);
    if (problem) return;
    setBusy(true);
    try {
      const created = await api.createWebhook(webhookRequest(draft));
      setSecret({ url: created.url, secret: created.secret });
      setDraft(EMPTY_WEBHOOK);
      onCreated(created);
    } catch (caught) {
      // The server's refusal (a private address, say) is about the address, most often.
      setError({ field: "form", text: errorText(caught) });
    } finally {
      setBusy(false);
    }
  };

  const message = (field: WebhookField) =>
    error?.field === field && (
      <p id={`webhook-error-${field}`} className="error" role="alert">
        {error.text}
      </p>
    );

  return (
    <form className="token-form" onSubmit={submit} noValidate>
      <h3>Add a webhook</h3>
      <label htmlFor="webhook-url">Address of your receiver</label>
      <input
        id="webhook-url"
        type="url"
        inputMode="url"
        autoComplete="off"
        autoCapitalize="off"
        spellCheck={false}
        value={draft.url}
        onChange={(event) => setDraft({ ...draft, url: event.target.value })}
        aria-invalid={error?.field === "url" || undefined}
        aria-describedby={error?.field === "url" ? "webhook-error-url webhook-url-hint" : "webhook-url-hint"}
      />
      {message("url")}
      <p id="webhook-url-hint" className="hint">
        Stemdeck sends a message there when something happens to one of your songs, such as an n8n or Home
        Assistant webhook.
      </p>
      <fieldset>
        <legend>Tell it when</legend>
        {EVENT_CHOICES.map((choice) => (
          <label key={choice.event} className="check">
            <input
              type="checkbox"
              checked={draft.events.includes(choice.event)}
              onChange={(event) => setDraft({ ...draft, events: withEvent(draft.events, choice.event, event.target.checked) })}
            />
            <span>
              <span className="check-label">{choice.label}</span>
              <span className="hint">{choice.detail}</span>
            </span>
          </label>
        ))}
        {message("events")}
      </fieldset>
      <label htmlFor="webhook-description">Note (optional)</label>
      <input
        id="webhook-description"
        autoComplete="off"
        value={draft.description}
        onChange={(event) => setDraft({ ...draft, description: event.target.value })}
      />
      {message("form")}
      <button type="submit" className="button primary" disabled={busy}>
        {busy ? "Adding…" : "Add webhook"}
      </button>
    </form>
  );
}
