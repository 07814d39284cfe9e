// The player's state (playerState.ts) wired to one MixEngine: the engine is created for
// the job, fed its stems as they load, and every control acts on the engine first and
// then records what it did in the reducer.
import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import { api, type Job } from "../api/client";
import { errorText } from "../lib/errors";
import { faderToGain, stemGains } from "../lib/mix";
import type { LoopRegion } from "../lib/sync";
import { clickGrid, type ClickBeat } from "./click";
import { fetchRanged, MixEngine } from "./engine";
import { loadStems } from "./loadStems";
import { cachedFetchAudio, StemCache } from "./stemCache";
import {
  canPlay,
  clickGain,
  initialPlayerState,
  markLoop as withLoopMark,
  mixFileName,
  playerReducer,
  songDuration,
  toggledLoop,
  type PlayerState,
} from "./playerState";
import { NATURAL, type TempoPitch } from "./stretch";

declare global {
  interface Window {
    /** The player's engine, for the browser console and the end-to-end tests. */
    stemdeckPlayer?: MixEngine;
  }
}

export interface PlayerControls {
  togglePlay: () => Promise<void>;
  seek: (seconds: number) => void;
  /** Seeks relative to where the engine is now, not to the last frame drawn. */
  seekBy: (seconds: number) => void;
  markLoop: (edge: "start" | "end") => void;
  /** A loop dragged on a waveform; the playhead moves into it if it was outside. */
  setLoopRange: (region: LoopRegion) => void;
  toggleLoop: () => void;
  setFader: (name: string, position: number) => void;
  toggleMute: (name: string) => void;
  toggleSolo: (name: string) => void;
  setMaster: (position: number) => void;
  toggleClick: () => void;
  setClickFader: (position: number) => void;
  select: (index: number) => void;
  selectStep: (step: 1 | -1) => void;
  setHelpOpen: (open: boolean) => void;
  exportMix: () => Promise<void>;
  setTempoPitch: (next: TempoPitch) => void;
}

export interface Player {
  state: PlayerState;
  duration: number;
  tempoPitch: TempoPitch;
  /** The beats the click plays, accented on downbeats; empty when the job has no beat grid. */
  clickBeats: readonly ClickBeat[];
  /** Why tempo and pitch could not be applied, if they could not. */
  tempoPitchError: string | null;
  controls: PlayerControls;
}

/** Hands a rendered file to the browser as a download. */
function saveFile(blob: Blob, name: string): void {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(link.href), 60000);
}

export function usePlayer(job: Job): Player {
  const duration = songDuration(job.stems);
  const [state, dispatch] = useReducer(playerReducer, job.stems.map((stem) => stem.name), initialPlayerState);
  const engineRef = useRef<MixEngine | null>(null);
  const clickBeats = useMemo(() => clickGrid(job.analysis?.beats ?? [], job.analysis?.downbeats ?? []), [job]);

  useEffect(() => {
    const engine = new MixEngine(
      job.stems.map((stem) => stem.name),
      duration,
      clickBeats,
    );
    engineRef.current = engine;
    window.stemdeckPlayer = engine;
    engine.onEnded = () => dispatch({ type: "ended" });
    const abort = new AbortController();
    const stemCache = StemCache.open();
    const sources = {
      fetchAudio: cachedFetchAudio(fetchRanged, stemCache),
      decode: (bytes: ArrayBuffer) => engine.context.decodeAudioData(bytes),
      addBuffer: (name: string, buffer: AudioBuffer) => engine.addBuffer(name, buffer),
      fetchPeaks: api.waveform,
    };
    loadStems(job.id, job.stems, sources, dispatch, abort.signal);
    // Stale stems of other songs go a while after this one's are read (and so marked used).
    const prune = window.setTimeout(() => void stemCache.then((cache) => cache?.prune()).catch(() => undefined), 15000);
    return () => {
      abort.abort();
      window.clearTimeout(prune);
      if (window.stemdeckPlayer === engine) delete window.stemdeckPlayer;
      void engine.close();
    };
  }, [job, duration, clickBeats]);

  const { mix, master, click, loop, loopMarks } = state;
  useEffect(() => engineRef.current?.setGains(stemGains(mix)), [mix]);
  useEffect(() => engineRef.current?.setMaster(faderToGain(master)), [master]);
  useEffect(() => engineRef.current?.setClick(clickGain(click)), [click]);
  // Kept beside the reducer, and given to each new engine (`job` is the engine's key).
  const [tempoPitch, setTempoPitch] = useState<TempoPitch>(NATURAL);
  const [tempoPitchError, setTempoPitchError] = useState<string | null>(null);
  useEffect(() => {
    engineRef.current?.setTempoPitch(tempoPitch).then(
      () => setTempoPitchError(null),
      (error: unknown) => setTempoPitchError(`Tempo and pitch could not start: ${errorText(error)}`),
    );
  }, [tempoPitch, job]);

  // While playing, the playhead follows the engine's clock once per frame.
  useEffect(() => {
    if (!state.playing) return;
    let frame = 0;
    const tick = () => {
      const engine = engineRef.current;
      if (engine) dispatch({ type: "position", position: engine.position() });
      frame = requestAnimationFrame(tick);
    };
    frame = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(frame);
  }, [state.playing]);

  const playable = canPlay(state);
  const togglePlay = useCallback(async () => {
    const engine = engineRef.current;
    if (!engine || !playable) return;
    if (engine.playing) {
      engine.pause();
      dispatch({ type: "paused", position: engine.position() });
    } else {
      await engine.play();
      dispatch({ type: "started" });
    }
  }, [playable]);

  const seek = useCallback(
    (seconds: number) => {
      const engine = engineRef.current;
      if (!engine) return;
      engine.seek(Math.min(Math.max(0, seconds), duration));
      dispatch({ type: "position", position: engine.position() });
    },
    [duration],
  );

  const markLoop = useCallback(
    (edge: "start" | "end") => {
      const marked = withLoopMark(loopMarks, edge, engineRef.current?.position() ?? 0, duration);
      engineRef.current?.setLoop(marked.loop);
      dispatch({ type: "loop", loop: marked.loop, marks: marked.marks });
    },
    [loopMarks, duration],
  );

  const setLoopRange = useCallback(
    (region: LoopRegion) => {
      const engine = engineRef.current;
      if (!engine) return;
      engine.setLoop(region);
      const position = engine.position();
      if (position < region.start || position >= region.end) engine.seek(region.start);
      dispatch({ type: "loop", loop: region, marks: { start: region.start, end: region.end } });
      dispatch({ type: "position", position: engine.position() });
    },
    [],
  );

  const toggleLoop = useCallback(() => {
    const next = toggledLoop({ loop, loopMarks }, duration);
    engineRef.current?.setLoop(next);
    dispatch({ type: "loop", loop: next });
  }, [loop, loopMarks, duration]);

  const exportMix = useCallback(async () => {
    const engine = engineRef.current;
    if (!engine) return;
    dispatch({ type: "export-started" });
    try {
      const blob = await engine.exportMix(stemGains(mix), faderToGain(master), clickGain(click));
      saveFile(blob, mixFileName(job.source.name));
      dispatch({ type: "export-finished" });
    } catch (error) {
      dispatch({ type: "export-failed", error: errorText(error) });
    }
  }, [mix, master, click, job.source.name]);

  // The controls that only record a choice never change, so the help dialog's close
  // handler stays the same function while the playhead moves.
  const choices = useMemo(
    () => ({
      setFader: (name: string, position: number) => dispatch({ type: "fader", name, position }),
      toggleMute: (name: string) => dispatch({ type: "toggle-mute", name }),
      toggleSolo: (name: string) => dispatch({ type: "toggle-solo", name }),
      setMaster: (position: number) => dispatch({ type: "master", position }),
      toggleClick: () => dispatch({ type: "click-toggle" }),
      setClickFader: (position: number) => dispatch({ type: "click-fader", position }),
      select: (index: number) => dispatch({ type: "select", index }),
      selectStep: (step: 1 | -1) => dispatch({ type: "select-step", step }),
      setHelpOpen: (open: boolean) => dispatch({ type: "help", open }),
      setTempoPitch,
    }),
    [],
  );
  const controls = useMemo<PlayerControls>(
    () => ({
      ...choices,
      togglePlay,
      seek,
      seekBy: (seconds) => seek((engineRef.current?.position() ?? 0) + seconds),
      markLoop,
      setLoopRange,
      toggleLoop,
      exportMix,
    }),
    [choices, togglePlay, seek, markLoop, setLoopRange, toggleLoop, exportMix],
  );

  return { state, duration, tempoPitch, clickBeats, tempoPitchError, controls };
}
