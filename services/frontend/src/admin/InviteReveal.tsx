import { useRef } from "react";
import type { CreatedInvite } from "../api/client";
import type { CopyResult } from "../account/tokenReveal";
import { copyText } from "../lib/clipboard";
import { formatTimestamp } from "../lib/format";
import { relativeTime } from "../lib/relativeTime";

/** A new invite's link, for this one moment: read-only, with Copy, to send by hand. */
export function InviteReveal({
  invite,
  copy,
  onCopied,
  onDone,
}: {
  invite: CreatedInvite;
  copy: CopyResult | null;
  onCopied: (result: CopyResult) => void;
  onDone: () => void;
}) {
  const field = useRef<HTMLInputElement>(null);
  return (
    <div className="token-reveal">
      <p id="invite-link-warning">
        <strong>Invite for {invite.email} is ready.</strong> Send them this link yourself: Stemdeck sends no email, and
        you will not see the link again. It works once, and stops working{" "}
        <span title={formatTimestamp(invite.expires_at)}>{relativeTime(invite.expires_at)}</span>.
      </p>
      <label htmlFor="invite-link">Invite link</label>
      <div className="copy-row">
        <input
          id="invite-link"
          ref={field}
          readOnly
          // Focus moves here as the form gives way to the link, so it is read out with the warning.
          autoFocus
          aria-describedby="invite-link-warning"
          value={invite.url}
          spellCheck={false}
          autoComplete="off"
          onFocus={(event) => event.currentTarget.select()}
          data-testid="invite-link"
        />
        <button type="button" className="button primary" onClick={async () => onCopied(await copyText(invite.url, field.current))}>
          Copy
        </button>
      </div>
      {copy === "copied" && <p className="ok-text small">Copied.</p>}
      {copy === "select-by-hand" && (
        <p className="hint">This browser blocks copying from here. The link is selected: copy it yourself.</p>
      )}
      <button type="button" className="button" onClick={onDone}>
        Done, I have copied it
      </button>
    </div>
  );
}
