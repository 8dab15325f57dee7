/** Turning raw discovery text into a validated, sorted, deduplicated `host:port` list. */
import { isHostPortError, parseHostPort } from '../address';
import { UserError } from '../errors';
import { expandRange } from './range';

const HINT = 'please check you are using the correct discovery (missing token:// ?)';

/** Expands ranges and validates each entry; a bad entry is an error naming it (v1's wording). */
export function parseEntries(raw: string[]): string[] {
  const out = new Set<string>();
  for (const item of raw) {
    const trimmed = item.trim();
    if (!trimmed) continue;
    for (const entry of expandRange(trimmed)) {
      const parsed = parseHostPort(entry);
      if (isHostPortError(parsed)) throw new UserError(`${parsed.error}, ${HINT}`);
      out.add(entry);
    }
  }
  return sortEntries([...out]);
}

/** Sorts entries so that 10.0.0.9 comes before 10.0.0.10. */
const numeric = new Intl.Collator('en', { numeric: true });

export function sortEntries(entries: string[]): string[] {
  return entries.sort(numeric.compare);
}

export function sameEntries(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
