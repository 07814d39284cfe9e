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

// Where Cache Storage exists (a secure context); private modes may still refuse it, and then
// the note promises a little too much, never less.
const keepsStems = () => globalThis.isSecureContext && "caches" in globalThis;

/**
 * How many stems can be heard yet; nothing once all of them can. Why they are lossless
 * (and so large) is said here, while the wait is felt.
 */
export function LoadingNote({ ready, total }: { ready: number; total: number }) {
  if (ready >= total) return null;
  return (
    <p className="muted small">
      {ready === 0
        ? "Loading stems; playback starts as soon as the first one is ready."
        : `${ready} of ${total} stems ready; the others join in sync as they load.`}{" "}
      They come lossless: compressed audio would shift stems against each other by a few milliseconds
      {keepsStems() ? ". This browser keeps them, so the next visit starts at once." : "."}
    </p>
  );
}
