import { useId } from "react";
import { faderToDb, formatDb, UNITY_POSITION } from "../lib/mix";

/** A desk-style fader that reads out in dB; a double-click puts it back at unity. */
export function Fader({
  value,
  label,
  onChange,
}: {
  value: number;
  label: string;
  onChange: (value: number) => void;
}) {
  const db = faderToDb(value);
  const id = useId();
  return (
    <div className="fader">
      <label htmlFor={id} className="visually-hidden">
        {label}
      </label>
      <input
        id={id}
        type="range"
        min={0}
        max={1}
        step={0.005}
        value={value}
        aria-valuetext={formatDb(db)}
        onChange={(event) => onChange(Number(event.target.value))}
        onDoubleClick={() => onChange(UNITY_POSITION)}
      />
      <output htmlFor={id} className="fader-db" aria-hidden="true">
        {formatDb(db)}
      </output>
    </div>
  );
}
