import { useEffect, useRef } from "react";
import { FOCUSABLE, trappedFocus } from "./focusTrap";

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
  ["Drag on a waveform", "Loop that stretch (whole bars when the song has a beat grid)"],
  ["Ctrl/⌘ + wheel, pinch", "Zoom the waveforms in or out; Shift + wheel scrolls them"],
  ["Home / End", "To the start or the end"],
  ["?", "Show or hide this help"],
];

/** Tab and Shift+Tab cycle through the dialog's controls and never leave it. */
function keepTabInside(dialog: HTMLElement | null, event: KeyboardEvent): void {
  if (!dialog) return;
  const controls = [...dialog.querySelectorAll<HTMLElement>(FOCUSABLE)];
  const current = controls.indexOf(document.activeElement as HTMLElement);
  const next = trappedFocus(current, controls.length, event.shiftKey);
  if (next === null) return;
  event.preventDefault();
  controls[next]?.focus();
}

/** The shortcuts, as a modal dialog: focus moves in, stays in, and goes back to the opener. */
export function HelpOverlay({ onClose }: { onClose: () => void }) {
  const closeButton = useRef<HTMLButtonElement>(null);
  const dialog = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    closeButton.current?.focus();
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Tab") return keepTabInside(dialog.current, event);
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
        ref={dialog}
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
