import { formatPercent } from "../lib/format";

export function ProgressBar({ value, label, tone }: { value: number; label: string; tone?: "ok" | "bad" }) {
  const percent = Math.round(Math.min(1, Math.max(0, value)) * 100);
  return (
    <div
      className={`progress ${tone ?? ""}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={percent}
      aria-valuetext={formatPercent(value)}
    >
      <div className="progress-fill" style={{ width: `${percent}%` }} />
    </div>
  );
}
