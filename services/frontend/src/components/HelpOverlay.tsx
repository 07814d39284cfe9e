import { useEffect, useRef } from "react";

export const SHORTCUTS: [string, string][] = [
  ["Space", "Play or pause"],
  ["← / →", "Back or forward 5 seconds"],
  ["Shift + ← / →", "Back or forward 1 second"],
  ["↑ / ↓", "Choose the previous or next stem"],
  ["1 … 9", "Choose a stem by number"],
  ["M", "Mute the chosen stem"],
  ["S", "Solo the chosen stem"],
  ["[ and ]", "Set the loop start and end at the playhead"],
  ["L", "Loop on or off"],
  ["Home", "Back to the start"],
  ["?", "Show or hide this help"],
];

export function HelpOverlay({ onClose }: { onClose: () => void }) {
  const closeButton = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    closeButton.current?.focus();
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape" || event.key === "?") {
        event.preventDefault();
        event.stopPropagation();
        onClose();
      }
    };
    window.addEventListener("keydown", onKey, true);
    return () => {
      window.removeEventListener("keydown", onKey, true);
      opener?.focus();
    };
  }, [onClose]);
  return (
    <div className="overlay" role="presentation" onClick={onClose}>
      <div
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby="help-title"
        onClick={(event) => event.stopPropagation()}
      >
        <h2 id="help-title">Keyboard shortcuts</h2>
        <dl className="shortcuts">
          {SHORTCUTS.map(([keys, what]) => (
            <div key={keys}>
              <dt>
                <kbd>{keys}</kbd>
              </dt>
              <dd>{what}</dd>
            </div>
          ))}
        </dl>
        <button ref={closeButton} type="button" className="button primary" onClick={onClose}>
          Close
        </button>
      </div>
    </div>
  );
}
