// The zoom and scroll every waveform lane shares. The zoom is a `--zoom` on the stem list
// and each lane scrolls its own overflow, kept in step with the others; both are set on
// the elements directly, so zooming, scrolling and following the playhead render no row
// (React only hears of the zoom for the buttons' label).
import { useCallback, useEffect, useRef, useState, type RefObject } from "react";
import { followScroll, MIN_ZOOM, scrollAfterZoom, steppedZoom, wheelZoom } from "./lanes";

/** After the user moves the view, the lanes leave following the playhead to them this long. */
const USER_GRACE_MS = 2500;

export interface LaneView {
  zoom: number;
  /** The zoom buttons: in around the playhead when it is in view, else the middle. */
  zoomBy: (direction: 1 | -1) => void;
  /** Zoom and scroll at once (a pinch), `scroll` in px of the zoomed waveform. */
  setView: (zoom: number, scroll: number) => void;
  /** The overview strip: centre the view on this fraction of the song. */
  centreOn: (fraction: number) => void;
  current: () => { zoom: number; scroll: number; lane: number };
}

function lanesIn(list: HTMLElement | null): HTMLElement[] {
  return list ? [...list.querySelectorAll<HTMLElement>(".lane")] : [];
}

export function useLaneView(
  list: RefObject<HTMLElement | null>,
  overview: RefObject<HTMLElement | null>,
  played: number,
): LaneView {
  const view = useRef({ zoom: MIN_ZOOM, scroll: 0 });
  const userAt = useRef(0);
  const playedNow = useRef(played);
  playedNow.current = played;
  const [zoom, setZoom] = useState(MIN_ZOOM);

  const laneWidth = useCallback(() => lanesIn(list.current)[0]?.clientWidth ?? 0, [list]);
  const showWindow = useCallback(() => {
    const { zoom: z, scroll } = view.current;
    const width = laneWidth() * z;
    overview.current?.style.setProperty("--view-start", String(width > 0 ? scroll / width : 0));
    overview.current?.style.setProperty("--view-size", String(1 / z));
  }, [overview, laneWidth]);

  const scrollAll = useCallback(
    (scroll: number, except?: HTMLElement) => {
      for (const lane of lanesIn(list.current)) if (lane !== except) lane.scrollLeft = scroll;
      view.current.scroll = scroll;
      showWindow();
    },
    [list, showWindow],
  );

  const setView = useCallback(
    (next: number, scroll: number) => {
      userAt.current = performance.now();
      list.current?.style.setProperty("--zoom", String(next));
      view.current.zoom = next;
      // Setting scrollLeft lays the lanes out at the new width first, so it lands exactly.
      scrollAll(scroll);
      setZoom(next);
    },
    [list, scrollAll],
  );

  const zoomAround = useCallback(
    (next: number, anchor: number) => {
      const { zoom: from, scroll } = view.current;
      setView(next, scrollAfterZoom(scroll, anchor, laneWidth(), from, next));
    },
    [setView, laneWidth],
  );

  const zoomBy = useCallback(
    (direction: 1 | -1) => {
      const lane = laneWidth();
      const { zoom: from, scroll } = view.current;
      const playhead = playedNow.current * lane * from - scroll;
      zoomAround(steppedZoom(from, direction), playhead >= 0 && playhead <= lane ? playhead : lane / 2);
    },
    [laneWidth, zoomAround],
  );

  const centreOn = useCallback(
    (fraction: number) => {
      userAt.current = performance.now();
      const lane = laneWidth();
      const { zoom: z } = view.current;
      scrollAll(Math.min(Math.max(0, fraction * lane * z - lane / 2), lane * z - lane));
    },
    [laneWidth, scrollAll],
  );

  useSyncedLanes(list, view, scrollAll, userAt);
  useWheelZoom(list, view, zoomAround);

  // The playhead stays in view while zoomed in, unless the user has just looked elsewhere.
  useEffect(() => {
    const { zoom: z, scroll } = view.current;
    // At 1× everything is in view: no reading of the lanes' layout per frame.
    if (z <= MIN_ZOOM || performance.now() - userAt.current < USER_GRACE_MS) return;
    const next = followScroll(played, scroll, laneWidth(), z);
    if (next !== null) scrollAll(next);
  }, [played, laneWidth, scrollAll]);

  const current = useCallback(() => ({ ...view.current, lane: laneWidth() }), [laneWidth]);
  return { zoom, zoomBy, setView, centreOn, current };
}

/** A lane scrolled by hand (Shift+wheel, a trackpad's sideways swipe) takes the others along. */
function useSyncedLanes(
  list: RefObject<HTMLElement | null>,
  view: RefObject<{ zoom: number; scroll: number }>,
  scrollAll: (scroll: number, except?: HTMLElement) => void,
  userAt: RefObject<number>,
): void {
  useEffect(() => {
    const element = list.current;
    if (!element) return;
    const onScroll = (event: Event) => {
      const lane = event.target;
      if (!(lane instanceof HTMLElement) || !lane.classList.contains("lane")) return;
      // Within a pixel is the echo of a scroll set here (scrollLeft rounds), not a new one.
      if (Math.abs(lane.scrollLeft - view.current.scroll) < 1) return;
      userAt.current = performance.now();
      scrollAll(lane.scrollLeft, lane);
    };
    // Scroll events do not bubble; the list hears its lanes' in the capture phase.
    element.addEventListener("scroll", onScroll, true);
    return () => element.removeEventListener("scroll", onScroll, true);
  }, [list, view, scrollAll, userAt]);
}

/** Ctrl/⌘ (or Alt) with the wheel zooms around the pointer; a plain wheel scrolls the page. */
function useWheelZoom(
  list: RefObject<HTMLElement | null>,
  view: RefObject<{ zoom: number; scroll: number }>,
  zoomAround: (next: number, anchor: number) => void,
): void {
  useEffect(() => {
    const element = list.current;
    if (!element) return;
    const onWheel = (event: WheelEvent) => {
      if (!(event.ctrlKey || event.metaKey || event.altKey)) return;
      const lane = event.target instanceof Element ? event.target.closest(".lane") : null;
      if (!lane) return;
      // Or the browser zooms the whole page.
      event.preventDefault();
      const box = lane.getBoundingClientRect();
      zoomAround(wheelZoom(view.current.zoom, event.deltaY), event.clientX - box.left);
    };
    element.addEventListener("wheel", onWheel, { passive: false });
    return () => element.removeEventListener("wheel", onWheel);
  }, [list, view, zoomAround]);
}
