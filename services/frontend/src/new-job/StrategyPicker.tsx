import type { Strategy } from "../api/client";

/** One radio per strategy, with its stems and whether its model weights are there. */
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
      <legend>Strategy</legend>
      {strategies.map((strategy) => {
        const missing = strategy.models.filter((m) => m.status === "missing");
        const downloads = strategy.models.filter((m) => m.status === "download");
        const readiness = missing.length ? "missing" : downloads.length ? "download" : "ready";
        const readinessText = {
          ready: "Models ready",
          download: "Models download on first use",
          missing: "Model weights missing",
        }[readiness];
        return (
          <label key={strategy.name} className={`strategy ${value === strategy.name ? "chosen" : ""}`}>
            <input
              type="radio"
              name="strategy"
              value={strategy.name}
              checked={value === strategy.name}
              onChange={() => onChange(strategy.name)}
              disabled={readiness === "missing"}
            />
            <span className="strategy-body">
              <span className="strategy-title">
                {strategy.label}
                {strategy.default && <span className="badge">default</span>}
              </span>
              <span className="strategy-stems">{strategy.stems.join(" · ")}</span>
              <span className={`readiness ${readiness}`}>
                {readinessText}
                {missing.length > 0 && `: ${missing.flatMap((m) => m.missing_files).join(", ")}`}
              </span>
            </span>
          </label>
        );
      })}
    </fieldset>
  );
}
