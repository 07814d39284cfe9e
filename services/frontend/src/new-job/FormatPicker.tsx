import type { Format, FormatId } from "../api/client";
import { defaultFormats, formatLabel } from "../lib/formats";

/** One checkbox per format the server offers; none ticked gets the server's default. */
export function FormatPicker({
  formats,
  error,
  value,
  onChange,
}: {
  formats: Format[] | null;
  error: string | null;
  value: readonly FormatId[];
  onChange: (formats: FormatId[]) => void;
}) {
  const toggle = (id: FormatId) => onChange(value.includes(id) ? value.filter((f) => f !== id) : [...value, id]);
  const defaults = formats ? defaultFormats(formats).map((id) => formatLabel(formats, id)) : [];
  return (
    <>
      <fieldset className="formats">
        <legend>Output formats</legend>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        {formats === null && !error && <p className="muted">Loading formats…</p>}
        {formats?.map((format) => (
          <label key={format.id} className="chip">
            <input type="checkbox" checked={value.includes(format.id)} onChange={() => toggle(format.id)} />
            {format.label}
          </label>
        ))}
      </fieldset>
      {value.length === 0 && (formats || error) && (
        <p className="hint">
          No format chosen: {defaults.length ? `you get ${defaults.join(", ")}, ` : ""}the server's default.
        </p>
      )}
    </>
  );
}
