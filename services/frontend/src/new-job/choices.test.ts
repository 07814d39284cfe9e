import { describe, expect, it } from "vitest";
import type { Model, Strategy } from "../api/client";
import { chosenTitle, expectedTimeText, initialStrategy, readinessOf, resolveChoices, timeLine, timeTone } from "./choices";

function model(status: Model["status"]): Model {
  return { id: "demucs:htdemucs", label: "Demucs", status, missing_files: status === "missing" ? ["demucs/x.th"] : [] };
}

function strategy(name: string, change: Partial<Strategy> = {}): Strategy {
  return {
    name,
    label: `${name} label`,
    stems: ["vocals", "drums", "bass", "other"],
    models: [model("ready")],
    default: false,
    seconds_per_audio_second: null,
    available: true,
    unavailable_reason: null,
    ...change,
  };
}

const MISSING = { models: [model("missing")], available: false, unavailable_reason: "Its model files are not installed." };

describe("expected time", () => {
  it("is told for a typical song, rounded as a person says it", () => {
    expect(expectedTimeText(null)).toBeNull();
    expect(expectedTimeText(0.01)).toBe("a few seconds for a 4-min song");
    expect(expectedTimeText(0.1)).toBe("about 25 s for a 4-min song");
    expect(expectedTimeText(0.5)).toBe("about 2 min for a 4-min song");
    expect(expectedTimeText(0.23)).toBe("about 1 min for a 4-min song");
    expect(expectedTimeText(30)).toBe("about 2 h for a 4-min song");
    expect(expectedTimeText(0.5, 180)).toBe("about 2 min for a 3-min song");
  });

  it("says why a strategy cannot run, or that it waits, instead of a time", () => {
    expect(timeLine(strategy("a", { seconds_per_audio_second: 0.5 }))).toBe("About 2 min for a 4-min song");
    expect(timeLine(strategy("a"))).toBe("Time shows after its first song here");
    expect(timeLine(strategy("a", { models: [model("download")] }))).toBe(
      "Time shows after its first song here; the first song also downloads the model",
    );
    expect(timeLine(strategy("a", { available: false, unavailable_reason: "No worker" }))).toBe("Waits until a worker starts");
    expect(timeLine(strategy("a", MISSING))).toBe("Its model files are not installed.");
  });
});

describe("choices", () => {
  it("maps each choice to its strategy, in order", () => {
    const all = ["htdemucs_ft", "htdemucs", "htdemucs_6s", "roformer-demucs", "four-stems-lite", "vocals", "four-stems-dsp"];
    const choices = resolveChoices(all.map((name) => strategy(name)));
    expect(choices.map((c) => [c.title, c.strategy.name])).toEqual([
      ["Vocals / instrumental", "vocals"],
      ["Four stems — fast", "htdemucs"],
      ["Four stems — best", "htdemucs_ft"],
      ["Six stems", "htdemucs_6s"],
    ]);
  });

  it("falls back to a strategy that can run, and keeps a blocked choice with its reason", () => {
    const choices = resolveChoices([
      strategy("htdemucs", MISSING),
      strategy("htdemucs_ft", MISSING),
      strategy("htdemucs_6s", MISSING),
      strategy("roformer-demucs", MISSING),
      strategy("four-stems-lite"),
      strategy("vocals", { available: false, unavailable_reason: "No worker" }),
    ]);
    const byTitle = Object.fromEntries(choices.map((c) => [c.title, [c.strategy.name, c.readiness]]));
    expect(byTitle).toEqual({
      "Vocals / instrumental": ["vocals", "waits"],
      "Four stems — fast": ["four-stems-lite", "ready"],
      "Four stems — best": ["htdemucs_ft", "blocked"],
      "Six stems": ["htdemucs_6s", "blocked"],
    });
  });

  it("leaves out a choice the server has no strategy for", () => {
    expect(resolveChoices([strategy("vocals")]).map((c) => c.key)).toEqual(["vocals"]);
    expect(resolveChoices([])).toEqual([]);
  });

  it("starts on the server's default unless it is blocked", () => {
    const listed = [strategy("htdemucs"), strategy("vocals", { default: true })];
    expect(initialStrategy(listed)).toBe("vocals");
    const blockedDefault = [strategy("htdemucs_ft", { ...MISSING, default: true }), strategy("vocals"), strategy("htdemucs")];
    expect(initialStrategy(blockedDefault)).toBe("vocals");
    expect(initialStrategy([strategy("htdemucs", MISSING)])).toBe("");
    expect(initialStrategy([strategy("center-sides")])).toBe("center-sides");
  });

  it("reads readiness from the weights first, then the workers", () => {
    expect(readinessOf(strategy("a"))).toBe("ready");
    expect(timeTone(strategy("a"))).toBe("untimed");
    expect(timeTone(strategy("a", { seconds_per_audio_second: 0.1 }))).toBe("ready");
    expect(timeTone(strategy("a", MISSING))).toBe("blocked");
    expect(readinessOf(strategy("a", { available: false }))).toBe("waits");
    expect(readinessOf(strategy("a", MISSING))).toBe("blocked");
  });

  it("names what is picked by its choice, or by its label", () => {
    const listed = [strategy("htdemucs"), strategy("center-sides")];
    expect(chosenTitle(listed, "htdemucs")).toBe("Four stems — fast");
    expect(chosenTitle(listed, "center-sides")).toBe("center-sides label");
    expect(chosenTitle(listed, "nope")).toBeNull();
  });
});
