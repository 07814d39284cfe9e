import { useEffect } from "react";

/** The tab's title names the page, which is also what a screen reader announces first. */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · Stemdeck` : "Stemdeck";
  }, [title]);
}
