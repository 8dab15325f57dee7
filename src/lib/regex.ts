/**
 * Regular expressions that come from outside (placement expressions `/re/`, `filters` values): Go's
 * RE2 syntax, as Swarm v1 and dockerd use, matched in time linear in the input by re2js. A
 * backtracking engine would let one request such as `affinity:container!=/^(a+)+$/` block the event
 * loop for seconds per candidate; RE2 has no backtracking (and so no lookaround or backreferences).
 */
import { RE2JS } from 're2js';

export interface SafeRegex {
  /** Whether the pattern matches anywhere in `text` (Go's MatchString). */
  test(text: string): boolean;
}

/** Patterns longer than this are refused (RE2 compiles in time and memory linear in the pattern). */
export const MAX_PATTERN_LENGTH = 4096;

/** Compiles `pattern` (RE2 syntax, inline flags such as `(?i)` included); null when it does not compile. */
export function compileRegex(pattern: string): SafeRegex | null {
  if (pattern.length > MAX_PATTERN_LENGTH) return null;
  try {
    const re = RE2JS.compile(pattern);
    return { test: (text: string) => re.test(text) };
  } catch {
    return null;
  }
}
