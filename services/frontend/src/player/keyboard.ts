// The player's keyboard shortcuts (listed for people in HelpOverlay): which key does
// what, pure so Vitest pins it down. usePlayerKeyboard.ts listens and runs the commands.

/** ← / → move this far; with Shift, one second. */
export const SEEK_STEP_S = 5;
export const FINE_SEEK_STEP_S = 1;

export type PlayerCommand =
  | { type: "play-pause" }
  | { type: "seek-by"; seconds: number }
  | { type: "seek-to"; seconds: number }
  | { type: "seek-end" }
  | { type: "select-step"; step: 1 | -1 }
  | { type: "select"; index: number }
  | { type: "mute-chosen" }
  | { type: "solo-chosen" }
  | { type: "mark-loop"; edge: "start" | "end" }
  | { type: "toggle-loop" }
  | { type: "show-help" };

export interface KeyPress {
  key: string;
  shiftKey: boolean;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
}

/** What had focus when the key went down. */
export interface KeyTarget {
  /** A field that takes typing (text input, text area, select): every key belongs to it. */
  onText: boolean;
  /** A fader: the arrows move it, not the playhead or the chosen stem. */
  onRange: boolean;
}

/** Input types that are pressed or dragged, not typed into: the shortcuts work over them. */
const NOT_TYPED = new Set(["button", "checkbox", "color", "file", "image", "radio", "range", "reset", "submit"]);

/** Whether an element takes typing, from its tag (any case) and, for an input, its type. */
export function takesTyping(tagName: string, inputType: string | null, editable: boolean): boolean {
  const tag = tagName.toLowerCase();
  if (editable || tag === "textarea" || tag === "select") return true;
  return tag === "input" && !NOT_TYPED.has((inputType ?? "text").toLowerCase());
}

/**
 * Whether the key's release is cancelled too. Some browsers press a focused button on
 * Space's release, not on its press, so Space after clicking "Mute" would mute again.
 */
export function cancelsKeyUp(press: Pick<KeyPress, "key">, target: KeyTarget): boolean {
  return press.key === " " && !target.onText;
}

export interface Shortcut {
  command: PlayerCommand;
  /** Whether the browser's own use of the key (scrolling, mostly) is cancelled. */
  preventDefault: boolean;
}

function run(command: PlayerCommand, preventDefault = false): Shortcut {
  return { command, preventDefault };
}

/** The shortcut a key press means, or null: a browser or system shortcut, or not ours. */
export function shortcutFor(press: KeyPress, target: KeyTarget, stemCount: number): Shortcut | null {
  if (press.ctrlKey || press.metaKey || press.altKey || target.onText) return null;
  const step = press.shiftKey ? FINE_SEEK_STEP_S : SEEK_STEP_S;
  switch (press.key) {
    case " ":
      // Always play/pause, even with a button focused (the one clicked last): its default,
      // pressing that button again, is cancelled.
      return run({ type: "play-pause" }, true);
    case "ArrowLeft":
    case "ArrowRight":
      if (target.onRange) return null;
      return run({ type: "seek-by", seconds: press.key === "ArrowLeft" ? -step : step }, true);
    case "ArrowUp":
    case "ArrowDown":
      if (target.onRange) return null;
      return run({ type: "select-step", step: press.key === "ArrowUp" ? -1 : 1 }, true);
    case "m":
    case "M":
      return run({ type: "mute-chosen" });
    case "s":
    case "S":
      return run({ type: "solo-chosen" });
    case "[":
      return run({ type: "mark-loop", edge: "start" });
    case "]":
      return run({ type: "mark-loop", edge: "end" });
    case "l":
    case "L":
      return run({ type: "toggle-loop" });
    case "Home":
      return run({ type: "seek-to", seconds: 0 }, true);
    case "End":
      return run({ type: "seek-end" }, true);
    case "?":
      return run({ type: "show-help" });
    default:
      if (/^[1-9]$/.test(press.key) && Number(press.key) <= stemCount) {
        return run({ type: "select", index: Number(press.key) - 1 });
      }
      return null;
  }
}
