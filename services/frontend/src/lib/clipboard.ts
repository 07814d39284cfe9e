import type { CopyResult } from "../account/tokenReveal";

/** Copies with the Clipboard API, which browsers offer only on https and localhost. */
export async function copyText(text: string, field: HTMLInputElement | null): Promise<CopyResult> {
  field?.select();
  try {
    if (!navigator.clipboard) throw new Error("no Clipboard API");
    await navigator.clipboard.writeText(text);
    return "copied";
  } catch {
    // Plain http on a home network has no Clipboard API: the value is selected instead,
    // ready for the keyboard's or the phone's own Copy.
    return "select-by-hand";
  }
}
