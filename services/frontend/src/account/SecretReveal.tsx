import { useRef, useState } from "react";
import { copyText } from "../lib/clipboard";
import type { CopyResult } from "./tokenReveal";

/**
 * A signing secret, for this one moment: read-only, with Copy and a plain warning. The
 * server keeps it only to sign with; it never shows it again.
 */
export function SecretReveal({
  id,
  heading,
  secret,
  lost,
  onDone,
}: {
  /** Unique on the page: the webhook's and the callbacks' secrets may show at once. */
  id: string;
  heading: string;
  secret: string;
  /** What to do if it is lost: there is no way to see it again. */
  lost: string;
  onDone: () => void;
}) {
  const field = useRef<HTMLInputElement>(null);
  const [copy, setCopy] = useState<CopyResult | null>(null);
  return (
    <div className="token-reveal" data-testid={`${id}-reveal`}>
      <p id={`${id}-warning`}>
        <strong>{heading}</strong> Copy it now: it is shown only this once; your receiver uses it to check deliveries
        are from Stemdeck.
      </p>
      <label htmlFor={`${id}-value`}>Signing secret</label>
      <div className="copy-row">
        <input
          id={`${id}-value`}
          ref={field}
          readOnly
          // Focus moves here as the form gives way to the secret, so it is read out with the warning.
          autoFocus
          aria-describedby={`${id}-warning`}
          value={secret}
          spellCheck={false}
          autoComplete="off"
          onFocus={(event) => event.currentTarget.select()}
        />
        <button type="button" className="button primary" onClick={async () => setCopy(await copyText(secret, field.current))}>
          Copy
        </button>
      </div>
      {copy === "copied" && <p className="ok-text small">Copied.</p>}
      {copy === "select-by-hand" && (
        <p className="hint">This browser blocks copying from here. The secret is selected: copy it yourself.</p>
      )}
      <p className="hint">{lost}</p>
      <button type="button" className="button" onClick={onDone}>
        Done, I have copied it
      </button>
    </div>
  );
}
