import { describe, expect, it } from "vitest";
import {
  cancelsKeyUp,
  FINE_SEEK_STEP_S,
  SEEK_STEP_S,
  shortcutFor,
  takesTyping,
  type KeyPress,
  type KeyTarget,
} from "./keyboard";

const PAGE: KeyTarget = { onText: false, onRange: false };
const BUTTON: KeyTarget = { onText: false, onRange: false };
const FADER: KeyTarget = { onText: false, onRange: true };
const TEXT: KeyTarget = { onText: true, onRange: false };

function press(key: string, modifiers: Partial<KeyPress> = {}): KeyPress {
  return { key, shiftKey: false, ctrlKey: false, metaKey: false, altKey: false, ...modifiers };
}

function command(key: string, target = PAGE, stems = 4, modifiers: Partial<KeyPress> = {}) {
  return shortcutFor(press(key, modifiers), target, stems)?.command ?? null;
}

describe("player shortcuts", () => {
  it("plays and pauses with Space wherever focus is, but in a text field", () => {
    const playPause = { command: { type: "play-pause" }, preventDefault: true };
    expect(shortcutFor(press(" "), PAGE, 4)).toEqual(playPause);
    // After clicking "Mute drums" or a fader, Space still plays: the button is not pressed again.
    expect(shortcutFor(press(" "), BUTTON, 4)).toEqual(playPause);
    expect(shortcutFor(press(" "), FADER, 4)).toEqual(playPause);
    expect(shortcutFor(press(" "), TEXT, 4)).toBeNull();
  });

  it("cancels Space's release too, so a browser that presses buttons on key-up does not", () => {
    expect(cancelsKeyUp(press(" "), BUTTON)).toBe(true);
    expect(cancelsKeyUp(press(" "), PAGE)).toBe(true);
    expect(cancelsKeyUp(press(" "), TEXT)).toBe(false);
    expect(cancelsKeyUp(press("Enter"), BUTTON)).toBe(false);
    expect(cancelsKeyUp(press("m"), BUTTON)).toBe(false);
  });

  it("leaves every key to a field that takes typing", () => {
    for (const key of [" ", "m", "s", "l", "?", "1", "[", "ArrowLeft", "Home", "End"]) {
      expect(shortcutFor(press(key), TEXT, 4)).toBeNull();
    }
  });

  it("tells fields that take typing from controls that are pressed or dragged", () => {
    expect(takesTyping("INPUT", null, false)).toBe(true); // no type: a text field
    expect(takesTyping("input", "search", false)).toBe(true);
    expect(takesTyping("INPUT", "email", false)).toBe(true);
    expect(takesTyping("TEXTAREA", null, false)).toBe(true);
    expect(takesTyping("SELECT", null, false)).toBe(true);
    expect(takesTyping("DIV", null, true)).toBe(true); // contenteditable
    expect(takesTyping("INPUT", "range", false)).toBe(false);
    expect(takesTyping("INPUT", "Checkbox", false)).toBe(false);
    expect(takesTyping("BUTTON", null, false)).toBe(false);
    expect(takesTyping("A", null, false)).toBe(false);
    expect(takesTyping("DIV", null, false)).toBe(false);
  });

  it("seeks 5 s with the arrows, 1 s with Shift, to the start with Home and the end with End", () => {
    expect(command("ArrowLeft")).toEqual({ type: "seek-by", seconds: -SEEK_STEP_S });
    expect(command("ArrowRight")).toEqual({ type: "seek-by", seconds: SEEK_STEP_S });
    expect(command("ArrowRight", PAGE, 4, { shiftKey: true })).toEqual({ type: "seek-by", seconds: FINE_SEEK_STEP_S });
    expect(command("ArrowLeft", PAGE, 4, { shiftKey: true })).toEqual({ type: "seek-by", seconds: -FINE_SEEK_STEP_S });
    expect(shortcutFor(press("Home"), PAGE, 4)).toEqual({ command: { type: "seek-to", seconds: 0 }, preventDefault: true });
    expect(shortcutFor(press("End"), PAGE, 4)).toEqual({ command: { type: "seek-end" }, preventDefault: true });
    // On a focused fader too: Home/End there would slam the volume to an end of its travel.
    expect(command("End", FADER)).toEqual({ type: "seek-end" });
  });

  it("chooses stems with ↑ / ↓ and by number, up to the stems there are", () => {
    expect(command("ArrowUp")).toEqual({ type: "select-step", step: -1 });
    expect(command("ArrowDown")).toEqual({ type: "select-step", step: 1 });
    expect(command("1")).toEqual({ type: "select", index: 0 });
    expect(command("4")).toEqual({ type: "select", index: 3 });
    expect(command("5")).toBeNull();
    expect(command("9", PAGE, 9)).toEqual({ type: "select", index: 8 });
    expect(command("0", PAGE, 10)).toBeNull();
  });

  it("leaves the arrows to a focused fader, but not to a focused button", () => {
    for (const key of ["ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown"]) {
      expect(command(key, FADER)).toBeNull();
      expect(command(key, BUTTON)).not.toBeNull();
    }
  });

  it("mutes and solos the chosen stem with M and S, either case, from anywhere", () => {
    for (const key of ["m", "M"]) expect(command(key, BUTTON)).toEqual({ type: "mute-chosen" });
    for (const key of ["s", "S"]) expect(command(key, FADER)).toEqual({ type: "solo-chosen" });
    // Letters keep their default: nothing on the page scrolls on them.
    expect(shortcutFor(press("m"), PAGE, 4)?.preventDefault).toBe(false);
  });

  it("sets the loop with [ and ], toggles it with L, and opens the help with ?", () => {
    expect(command("[")).toEqual({ type: "mark-loop", edge: "start" });
    expect(command("]")).toEqual({ type: "mark-loop", edge: "end" });
    expect(command("l")).toEqual({ type: "toggle-loop" });
    expect(command("L")).toEqual({ type: "toggle-loop" });
    expect(command("?")).toEqual({ type: "show-help" });
  });

  it("cancels the browser's scrolling only for the keys that scroll", () => {
    const prevented = [" ", "ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home", "End"];
    for (const key of prevented) expect(shortcutFor(press(key), PAGE, 4)?.preventDefault).toBe(true);
    for (const key of ["m", "s", "[", "]", "l", "?", "2"]) expect(shortcutFor(press(key), PAGE, 4)?.preventDefault).toBe(false);
  });

  it("leaves browser and system shortcuts alone", () => {
    expect(command("s", PAGE, 4, { ctrlKey: true })).toBeNull(); // save page
    expect(command("l", PAGE, 4, { metaKey: true })).toBeNull(); // address bar
    expect(command("ArrowLeft", PAGE, 4, { altKey: true })).toBeNull(); // back
    expect(command("Enter")).toBeNull();
    expect(command("x")).toBeNull();
  });
});
