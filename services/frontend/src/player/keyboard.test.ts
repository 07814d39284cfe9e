import { describe, expect, it } from "vitest";
import { FINE_SEEK_STEP_S, SEEK_STEP_S, shortcutFor, type KeyPress, type KeyTarget } from "./keyboard";

const PAGE: KeyTarget = { onControl: false, onRange: false };
const BUTTON: KeyTarget = { onControl: true, onRange: false };
const FADER: KeyTarget = { onControl: true, onRange: true };

function press(key: string, modifiers: Partial<KeyPress> = {}): KeyPress {
  return { key, shiftKey: false, ctrlKey: false, metaKey: false, altKey: false, ...modifiers };
}

function command(key: string, target = PAGE, stems = 4, modifiers: Partial<KeyPress> = {}) {
  return shortcutFor(press(key, modifiers), target, stems)?.command ?? null;
}

describe("player shortcuts", () => {
  it("plays and pauses with Space, unless a control has focus", () => {
    expect(shortcutFor(press(" "), PAGE, 4)).toEqual({ command: { type: "play-pause" }, preventDefault: true });
    // Space on "Mute drums" presses that button instead.
    expect(shortcutFor(press(" "), BUTTON, 4)).toBeNull();
  });

  it("seeks 5 s with the arrows, 1 s with Shift, and to the start with Home", () => {
    expect(command("ArrowLeft")).toEqual({ type: "seek-by", seconds: -SEEK_STEP_S });
    expect(command("ArrowRight")).toEqual({ type: "seek-by", seconds: SEEK_STEP_S });
    expect(command("ArrowRight", PAGE, 4, { shiftKey: true })).toEqual({ type: "seek-by", seconds: FINE_SEEK_STEP_S });
    expect(command("ArrowLeft", PAGE, 4, { shiftKey: true })).toEqual({ type: "seek-by", seconds: -FINE_SEEK_STEP_S });
    expect(shortcutFor(press("Home"), PAGE, 4)).toEqual({ command: { type: "seek-to", seconds: 0 }, preventDefault: true });
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
    const prevented = [" ", "ArrowLeft", "ArrowRight", "ArrowUp", "ArrowDown", "Home"];
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
