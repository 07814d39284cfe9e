import { describe, expect, it } from "vitest";

import { strategyWords } from "./strategyWords";

describe("strategyWords", () => {
  it("names a strategy behind one of the choices by the choice", () => {
    expect(strategyWords({ strategy: "htdemucs", strategy_label: "Demucs v4 (best default quality)" })).toBe(
      "Four stems — fast",
    );
    expect(strategyWords({ strategy: "vocals", strategy_label: null })).toBe("Vocals / instrumental");
  });

  it("falls back on the server's label, then on the id it no longer knows", () => {
    const label = "Centre (often the lead vocal) and sides (signal processing, no AI)";
    expect(strategyWords({ strategy: "center-sides", strategy_label: label })).toBe(label);
    expect(strategyWords({ strategy: "removed", strategy_label: null })).toBe("removed");
  });
});
