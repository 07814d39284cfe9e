import { useReducer, useState } from "react";
import { api } from "../api/client";
import { errorText } from "../lib/errors";
import {
  draftProblem,
  EMPTY_DRAFT,
  EXPIRY_CHOICES,
  SCOPE_CHOICES,
  tokenRequest,
  withScope,
  type TokenDraft,
  type TokenField,
} from "./tokenDraft";
import { TokenReveal } from "./TokenReveal";
import { INITIAL_TOKEN_FORM, tokenFormReducer } from "./tokenReveal";

/** Creates an API token, then shows its value once in place of the form. */
export function NewTokenForm({ onCreated }: { onCreated: () => void }) {
  const [draft, setDraft] = useState<TokenDraft>(EMPTY_DRAFT);
  const [state, dispatch] = useReducer(tokenFormReducer, INITIAL_TOKEN_FORM);

  if (state.phase === "shown") {
    return (
      <TokenReveal
        name={state.name}
        token={state.token}
        copy={state.copy}
        onCopied={(result) => dispatch({ type: "copied", result })}
        onDone={() => dispatch({ type: "done" })}
      />
    );
  }

  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    const problem = draftProblem(draft);
    if (problem) return dispatch({ type: "failed", error: problem });
    dispatch({ type: "submit" });
    try {
      const created = await api.createToken(tokenRequest(draft));
      dispatch({ type: "created", created });
      setDraft(EMPTY_DRAFT);
      onCreated();
    } catch (caught) {
      // The server's refusal may be about any part: it shows by the button that sent it.
      dispatch({ type: "failed", error: { field: "form", text: errorText(caught) } });
    }
  };

  const message = (field: TokenField) =>
    state.error?.field === field && (
      <p id={`token-error-${field}`} className="error" role="alert">
        {state.error.text}
      </p>
    );

  return (
    <form className="token-form" onSubmit={submit} noValidate>
      <h3>New token</h3>
      <label htmlFor="token-name">Name</label>
      <input
        id="token-name"
        value={draft.name}
        // The server's longest name.
        maxLength={100}
        autoComplete="off"
        onChange={(event) => setDraft({ ...draft, name: event.target.value })}
        aria-invalid={state.error?.field === "name" || undefined}
        aria-describedby={state.error?.field === "name" ? "token-error-name token-name-hint" : "token-name-hint"}
      />
      {message("name")}
      <p id="token-name-hint" className="hint">
        What will use it, such as “laptop script” or “nightly backup”.
      </p>
      <fieldset>
        <legend>What it may do</legend>
        {SCOPE_CHOICES.map((choice) => (
          <label key={choice.scope} className="check">
            <input
              type="checkbox"
              checked={draft.scopes.includes(choice.scope)}
              onChange={(event) => setDraft({ ...draft, scopes: withScope(draft.scopes, choice.scope, event.target.checked) })}
            />
            <span>
              <span className="check-label">{choice.label}</span>
              <span className="hint">{choice.detail}</span>
            </span>
          </label>
        ))}
        {message("scopes")}
      </fieldset>
      <label htmlFor="token-expiry">Stops working</label>
      <select
        id="token-expiry"
        value={draft.expiresDays ?? "never"}
        onChange={(event) =>
          setDraft({ ...draft, expiresDays: event.target.value === "never" ? null : Number(event.target.value) })
        }
      >
        {EXPIRY_CHOICES.map((choice) => (
          <option key={choice.label} value={choice.days ?? "never"}>
            {choice.label}
          </option>
        ))}
      </select>
      {message("form")}
      <button type="submit" className="button primary" disabled={state.busy}>
        {state.busy ? "Creating…" : "Create token"}
      </button>
    </form>
  );
}
