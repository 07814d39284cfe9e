import { useRef } from "react";
import { copyText } from "../lib/clipboard";
import type { CopyResult } from "./tokenReveal";

/** A new token's value, for this one moment: read-only, with Copy and a plain warning. */
export function TokenReveal({
  name,
  token,
  copy,
  onCopied,
  onDone,
}: {
  name: string;
  token: string;
  copy: CopyResult | null;
  onCopied: (result: CopyResult) => void;
  onDone: () => void;
}) {
  const field = useRef<HTMLInputElement>(null);
  return (
    <div className="token-reveal">
      <p id="new-token-warning">
        <strong>Token “{name}” is ready.</strong> Copy it now: you will not see it again. If you lose it, revoke it and
        create another.
      </p>
      <label htmlFor="new-token-value">Your new token</label>
      <div className="copy-row">
        <input
          id="new-token-value"
          ref={field}
          readOnly
          // Focus moves here as the form gives way to the value, so it is read out with the warning.
          autoFocus
          aria-describedby="new-token-warning"
          value={token}
          spellCheck={false}
          autoComplete="off"
          onFocus={(event) => event.currentTarget.select()}
          data-testid="new-token-value"
        />
        <button type="button" className="button primary" onClick={async () => onCopied(await copyText(token, field.current))}>
          Copy
        </button>
      </div>
      {copy === "copied" && <p className="ok-text small">Copied.</p>}
      {copy === "select-by-hand" && (
        <p className="hint">This browser blocks copying from here. The token is selected: copy it yourself.</p>
      )}
      <p className="hint">Scripts send it as the header Authorization: Bearer followed by the token.</p>
      <button type="button" className="button" onClick={onDone}>
        Done, I have copied it
      </button>
    </div>
  );
}
