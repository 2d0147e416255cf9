// "did you mean ...": the closest known name by edit distance, when it is close enough to be a typo.

export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = prev[j]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      prev[j] = Math.min(above + 1, prev[j - 1]! + 1, diagonal + cost);
      diagonal = above;
    }
  }
  return prev[b.length]!;
}

export function closest(input: string, candidates: Iterable<string>): string | undefined {
  const lowered = input.toLowerCase();
  const list = [...candidates];
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of list) {
    const d = editDistance(lowered, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  const allowed = Math.max(2, Math.floor(input.length / 3));
  if (best !== undefined && bestDistance <= allowed) return best;
  // A longer spelling of a short name ("warning" for warn, "information" for info) is far by edits.
  const [stem, ...more] = list.filter((c) => c.length >= 3 && lowered.startsWith(c.toLowerCase()));
  if (stem !== undefined) return more.length === 0 ? stem : undefined;
  // So is a name cut short ("shutdown" for shutdown_timeout, "health" for health_check).
  const [whole, ...others] = lowered.length >= 4 ? list.filter((c) => c.toLowerCase().startsWith(lowered)) : [];
  return others.length === 0 ? whole : undefined;
}

/** ' (did you mean "x"?)' or ''. */
export function didYouMean(input: string, candidates: Iterable<string>): string {
  const match = closest(input, candidates);
  return match === undefined ? '' : ` (did you mean "${match}"?)`;
}
