// Taking stems away: each stem's files, the zip of all of them, and the mix rendered
// through the faders.
import type { Stem } from "../api/client";
import { formatBytes } from "../lib/format";
import { formatLabel, useFormats } from "../lib/formats";
import { dbToFader, faderToDb, formatDb } from "../lib/mix";

/** One link per format the stem was encoded in, with its size. */
export function StemDownloads({ stem }: { stem: Stem }) {
  const { formats } = useFormats();
  return (
    <div className="stem-downloads">
      {stem.formats.map((format) => (
        <a key={format} className="download-link" href={stem.download_urls[format]} download>
          {formatLabel(formats, format)}
          <span className="muted"> {formatBytes(stem.sizes[format] ?? 0)}</span>
          <span className="visually-hidden"> of {stem.name}</span>
        </a>
      ))}
    </div>
  );
}

export function DownloadsPanel({
  zipUrl,
  master,
  canExport,
  exporting,
  exportError,
  exportExtras = "",
  onExport,
}: {
  zipUrl: string | null;
  /** Master fader position, for saying what level the export renders at. */
  master: number;
  canExport: boolean;
  exporting: boolean;
  exportError: string | null;
  /** Tempo, pitch and loop, in words, when the export follows them. */
  exportExtras?: string;
  onExport: () => void;
}) {
  return (
    <section className="panel exports" aria-labelledby="downloads-heading">
      <h2 id="downloads-heading">Take it with you</h2>
      <div className="actions">
        {zipUrl && (
          <a className="button" href={zipUrl} download data-testid="zip">
            All stems (.zip)
          </a>
        )}
        <button type="button" className="button primary" onClick={onExport} disabled={!canExport} data-testid="export">
          {exporting ? "Rendering…" : "Export my mix (.wav)"}
        </button>
      </div>
      <p className="muted small">
        “Export my mix” renders the stems through your faders, mutes and solos in the browser, at{" "}
        {formatDb(faderToDb(master))} master{dbToFader(0) === master ? " (unity)" : ""}.
      </p>
      <p className="muted small export-extras" data-testid="export-extras">
        {exportExtras}
      </p>
      {exportError && (
        <p className="error" role="alert">
          {exportError}
        </p>
      )}
    </section>
  );
}
