// Listens for the player's shortcuts (keyboard.ts says which key does what) and runs them.
import { useEffect } from "react";
import { cancelsKeyUp, shortcutFor, takesTyping, type KeyTarget, type PlayerCommand } from "./keyboard";
import { chosenStem } from "./playerState";
import type { Player } from "./usePlayer";

function keyTargetOf(target: EventTarget | null): KeyTarget {
  return {
    onText:
      target instanceof HTMLElement &&
      takesTyping(target.tagName, target.getAttribute("type"), target.isContentEditable),
    onRange: target instanceof HTMLInputElement && target.type === "range",
  };
}

export function usePlayerKeyboard({ state, duration, controls }: Player): void {
  const { helpOpen, mix, selected } = state;
  useEffect(() => {
    const runCommand = (command: PlayerCommand): void => {
      const chosen = chosenStem({ mix, selected });
      switch (command.type) {
        case "play-pause":
          return void controls.togglePlay();
        case "seek-by":
          return controls.seekBy(command.seconds);
        case "seek-to":
          return controls.seek(command.seconds);
        case "seek-end":
          return controls.seek(duration);
        case "select-step":
          return controls.selectStep(command.step);
        case "select":
          return controls.select(command.index);
        case "mute-chosen":
          if (chosen) controls.toggleMute(chosen);
          return;
        case "solo-chosen":
          if (chosen) controls.toggleSolo(chosen);
          return;
        case "mark-loop":
          return controls.markLoop(command.edge);
        case "toggle-loop":
          return controls.toggleLoop();
        case "show-help":
          return controls.setHelpOpen(true);
      }
    };
    const onKey = (event: KeyboardEvent) => {
      // The open help dialog has the keyboard to itself (Escape and ? close it).
      if (helpOpen) return;
      const shortcut = shortcutFor(event, keyTargetOf(event.target), mix.length);
      if (!shortcut) return;
      if (shortcut.preventDefault) event.preventDefault();
      runCommand(shortcut.command);
    };
    const onKeyUp = (event: KeyboardEvent) => {
      if (!helpOpen && cancelsKeyUp(event, keyTargetOf(event.target))) event.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    window.addEventListener("keyup", onKeyUp);
    return () => {
      window.removeEventListener("keydown", onKey);
      window.removeEventListener("keyup", onKeyUp);
    };
  }, [helpOpen, mix, selected, duration, controls]);
}
