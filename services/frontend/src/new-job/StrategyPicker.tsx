import type { Strategy } from "../api/client";
import { readinessOf, timeLine, timeTone } from "./choices";

/** Every strategy of the server's, for those who know what they want: its stems, its
 * time here, and why it cannot run when it cannot. */
export function StrategyPicker({
  strategies,
  value,
  onChange,
}: {
  strategies: Strategy[];
  value: string;
  onChange: (name: string) => void;
}) {
  return (
    <fieldset className="strategies">
      <legend className="visually-hidden">All strategies</legend>
      {strategies.map((strategy) => {
        const readiness = readinessOf(strategy);
        return (
          <label key={strategy.name} className={`strategy ${value === strategy.name ? "chosen" : ""}`}>
            <input
              type="radio"
              name="strategy"
              value={strategy.name}
              checked={value === strategy.name}
              onChange={() => onChange(strategy.name)}
              disabled={readiness === "blocked"}
            />
            <span className="strategy-body">
              <span className="strategy-title">
                {strategy.label}
                {strategy.default && <span className="badge">default</span>}
              </span>
              <span className="strategy-stems">{strategy.stems.join(" · ")}</span>
              <span className={`readiness ${timeTone(strategy)}`}>{timeLine(strategy)}</span>
            </span>
          </label>
        );
      })}
    </fieldset>
  );
}
