// What the player says while stems are still arriving: a bar over each stem's lane,
// and one line under the transport.
import { ProgressBar } from "../components/ProgressBar";
import type { StemLoad } from "./playerState";

/** Covers a stem's lane until it can be heard; a failed stem says why here. */
export function StemLoading({ name, load }: { name: string; load: StemLoad }) {
  if (load.state === "ready") return null;
  return (
    <div className={`stem-loading ${load.state}`} data-testid="stem-loading">
      {load.state === "failed" ? (
        <span className="error" role="alert">
          {load.error}
        </span>
      ) : (
        <>
          <span>{load.state === "loading" ? `Loading ${Math.round(load.progress * 100)} %` : "Decoding…"}</span>
          <ProgressBar value={load.progress} label={`Loading ${name}`} />
        </>
      )}
    </div>
  );
}

/** How many stems can be heard yet; nothing once all of them can. */
export function LoadingNote({ ready, total }: { ready: number; total: number }) {
  if (ready === 0) return <p className="muted small">Loading stems; playback starts as soon as the first one is ready.</p>;
  if (ready < total)
    return (
      <p className="muted small">
        {ready} of {total} stems ready; the others join in sync as they load.
      </p>
    );
  return null;
}
