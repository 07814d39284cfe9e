// Keeping the jobs list in order as its newest page is refreshed and older pages load.

export const PAGE_SIZE = 100;

interface Listed {
  id: string;
}

/**
 * The list after a fresh newest page: the page itself, then the older jobs loaded
 * earlier that it does not contain. A page shorter than PAGE_SIZE is the whole list,
 * so anything else has been deleted meanwhile.
 */
export function withNewestPage<J extends Listed>(current: readonly J[] | null, page: readonly J[]): J[] {
  if (!current || page.length < PAGE_SIZE) return [...page];
  const onPage = new Set(page.map((job) => job.id));
  const older = current.slice(current.findIndex((job) => job.id === page.at(-1)?.id) + 1);
  return [...page, ...older.filter((job) => !onPage.has(job.id))];
}

/** The list with an older page appended; jobs that moved between pages appear once. */
export function withOlderPage<J extends Listed>(current: readonly J[], page: readonly J[]): J[] {
  const known = new Set(current.map((job) => job.id));
  return [...current, ...page.filter((job) => !known.has(job.id))];
}

/** The list with one job replaced by a fresher copy of it (after Cancel, say). */
export function withJob<J extends Listed>(current: readonly J[] | null, job: J): J[] | null {
  return current?.map((listed) => (listed.id === job.id ? job : listed)) ?? null;
}
