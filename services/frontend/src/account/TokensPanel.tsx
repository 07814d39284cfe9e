import { api, type ApiToken } from "../api/client";
import { formatTimestamp } from "../lib/format";
import { relativeTime } from "../lib/relativeTime";
import { useLoaded } from "../lib/useLoaded";
import { ConfirmButton } from "./ConfirmButton";
import { NewTokenForm } from "./NewTokenForm";
import { scopeWords } from "./tokenDraft";

function TokenRow({ token, onRevoked }: { token: ApiToken; onRevoked: (id: string) => void }) {
  const expired = token.expires_at !== null && Date.parse(token.expires_at) <= Date.now();
  return (
    <li className="account-row">
      <div className="account-row-main">
        <span className="account-row-title">{token.name}</span>
        <span className="muted small mono">{token.prefix}…</span>
        <span className="small">{scopeWords(token.scopes)}</span>
        <span className="muted small">
          {token.last_used_at ? (
            <span title={formatTimestamp(token.last_used_at)}>Last used {relativeTime(token.last_used_at)}</span>
          ) : (
            "Never used"
          )}
          {" · "}
          {token.expires_at === null ? (
            "Never expires"
          ) : (
            <span title={formatTimestamp(token.expires_at)} className={expired ? "error-text" : undefined}>
              {expired ? "Expired" : "Expires"} {relativeTime(token.expires_at)}
            </span>
          )}
        </span>
      </div>
      <ConfirmButton
        label="Revoke"
        accessibleName={`Revoke ${token.name}`}
        question={`Revoke “${token.name}”? Anything using it is refused from now on.`}
        confirmLabel="Yes, revoke"
        onConfirm={async () => {
          await api.revokeToken(token.id);
          onRevoked(token.id);
        }}
      />
    </li>
  );
}

/** API tokens for scripts: create one (its value shown once), see them, revoke them. */
export function TokensPanel() {
  const tokens = useLoaded(api.tokens);
  const removed = (id: string) => tokens.setData((list) => list?.filter((token) => token.id !== id) ?? null);
  return (
    <section className="panel account-section" aria-labelledby="tokens-heading">
      <h2 id="tokens-heading">API tokens</h2>
      <p className="muted">Scripts and other programs sign in with a token instead of your password.</p>
      <NewTokenForm onCreated={tokens.reload} />
      <h3>Your tokens</h3>
      {tokens.error && (
        <p className="error" role="alert">
          {tokens.error}
        </p>
      )}
      {tokens.data === null && !tokens.error && <p className="muted">Loading tokens…</p>}
      {tokens.data?.length === 0 && <p className="muted">No tokens yet.</p>}
      {tokens.data && tokens.data.length > 0 && (
        <ul className="account-rows" aria-label="Your API tokens">
          {tokens.data.map((token) => (
            <TokenRow key={token.id} token={token} onRevoked={removed} />
          ))}
        </ul>
      )}
    </section>
  );
}
