// Keeping Tab inside a modal dialog: from the last control Tab goes to the first, and
// Shift+Tab from the first to the last, so focus never wanders behind the overlay.

export const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * Where Tab should move focus inside a dialog with `count` controls, from `current`
 * (-1: focus is outside them). Null: let the browser move it (it stays inside).
 */
export function trappedFocus(current: number, count: number, backwards: boolean): number | null {
  if (count === 0) return null;
  if (current < 0) return backwards ? count - 1 : 0;
  if (backwards && current === 0) return count - 1;
  if (!backwards && current === count - 1) return 0;
  return null;
}
