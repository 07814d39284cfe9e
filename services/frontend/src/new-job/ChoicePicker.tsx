import type { Strategy } from "../api/client";
import { resolveChoices, timeLine, timeTone } from "./choices";
import { StrategyPicker } from "./StrategyPicker";

/** A few ways to split, in plain words, each with its stems and its time here; the
 * server's every strategy behind "All strategies". */
export function ChoicePicker({
  strategies,
  value,
  onChange,
}: {
  strategies: Strategy[];
  value: string;
  onChange: (name: string) => void;
}) {
  const choices = resolveChoices(strategies);
  return (
    <>
      <fieldset className="choices">
        <legend>What do you want back?</legend>
        {choices.map(({ key, title, strategy, readiness }) => (
          <label key={key} className={`choice ${readiness} ${value === strategy.name ? "chosen" : ""}`}>
            <input
              type="radio"
              name="choice"
              value={key}
              checked={value === strategy.name}
              onChange={() => onChange(strategy.name)}
              disabled={readiness === "blocked"}
              aria-describedby={`choice-${key}-time`}
            />
            <span className="choice-body">
              <span className="choice-title">{title}</span>
              <span className="choice-stems">{strategy.stems.join(" · ")}</span>
              <span className={`choice-time ${timeTone(strategy)}`} id={`choice-${key}-time`}>
                {timeLine(strategy)}
              </span>
            </span>
          </label>
        ))}
      </fieldset>
      <details className="all-strategies">
        <summary>All strategies ({strategies.length})</summary>
        <StrategyPicker strategies={strategies} value={value} onChange={onChange} />
      </details>
    </>
  );
}
