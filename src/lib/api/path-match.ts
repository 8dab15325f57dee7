/**
 * Go's `path.Match`, which Docker's `reference` image filter applies (through
 * `reference.FamiliarMatch`): `*` is any run of characters but `/`, `?` one character but `/`,
 * `[a-z]` / `[^a-z]` a class, `\` escapes. Ported rather than turned into a RegExp: the pattern
 * is the client's, and this walk (like Go's) never backtracks across stars, so its cost stays
 * within pattern length × name length.
 */

/** Whether `name` matches `pattern`; a malformed pattern matches nothing (Docker's filter skips it). */
export function pathMatch(pattern: string, name: string): boolean {
  const r = match([...pattern], [...name]);
  return r === true;
}

type Bad = 'bad';

function match(p: string[], n: string[]): boolean | Bad {
  let pi = 0;
  let ni = 0;
  outer: while (pi < p.length) {
    const { star, chunk, next } = scanChunk(p, pi);
    pi = next;
    if (star && chunk.length === 0) return !n.slice(ni).includes('/');
    const last = pi >= p.length;
    const here = matchChunk(chunk, n, ni);
    if (here === 'bad') return 'bad';
    if (here !== false && (here === n.length || !last)) {
      ni = here;
      continue;
    }
    if (star) {
      for (let i = ni; i < n.length && n[i] !== '/'; i++) {
        const t = matchChunk(chunk, n, i + 1);
        if (t === 'bad') return 'bad';
        if (t !== false) {
          if (last && t < n.length) continue;
          ni = t;
          continue outer;
        }
      }
    }
    // No match: still report a malformed remainder, as Go does.
    while (pi < p.length) {
      const rest = scanChunk(p, pi);
      pi = rest.next;
      if (matchChunk(rest.chunk, [], 0) === 'bad') return 'bad';
    }
    return false;
  }
  return ni === n.length;
}

function scanChunk(p: string[], from: number): { star: boolean; chunk: string[]; next: number } {
  let i = from;
  let star = false;
  while (i < p.length && p[i] === '*') {
    i++;
    star = true;
  }
  const start = i;
  let inRange = false;
  for (; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') {
      if (i + 1 < p.length) i++;
    } else if (c === '[') inRange = true;
    else if (c === ']') inRange = false;
    else if (c === '*' && !inRange) break;
  }
  return { star, chunk: p.slice(start, i), next: i };
}

/** Index in `s` after matching `chunk` at `at`, false when it does not match, 'bad' when malformed. */
function matchChunk(chunk: string[], s: string[], at: number): number | false | Bad {
  let failed = false;
  let si = at;
  let ci = 0;
  while (ci < chunk.length) {
    if (!failed && si >= s.length) failed = true;
    const c = chunk[ci]!;
    if (c === '[') {
      const r = failed ? -1 : s[si++]!.codePointAt(0)!;
      ci++;
      let negated = false;
      if (chunk[ci] === '^') {
        negated = true;
        ci++;
      }
      let matched = false;
      let ranges = 0;
      for (;;) {
        if (ci < chunk.length && chunk[ci] === ']' && ranges > 0) {
          ci++;
          break;
        }
        const lo = escaped(chunk, ci);
        if (lo === 'bad') return 'bad';
        ci = lo.next;
        let hi = lo.ch;
        if (chunk[ci] === '-') {
          const h = escaped(chunk, ci + 1);
          if (h === 'bad') return 'bad';
          ci = h.next;
          hi = h.ch;
        }
        if (!failed && lo.ch <= r && r <= hi) matched = true;
        ranges++;
      }
      if (matched === negated) failed = true;
    } else if (c === '?') {
      if (!failed && s[si++] === '/') failed = true;
      ci++;
    } else {
      if (c === '\\') {
        ci++;
        if (ci >= chunk.length) return 'bad';
      }
      if (!failed && chunk[ci] !== s[si++]) failed = true;
      ci++;
    }
  }
  return failed ? false : si;
}

/** One class character (possibly escaped); malformed when missing, `-`, `]`, or the chunk ends after it. */
function escaped(chunk: string[], at: number): { ch: number; next: number } | Bad {
  let i = at;
  if (i >= chunk.length || chunk[i] === '-' || chunk[i] === ']') return 'bad';
  if (chunk[i] === '\\') {
    i++;
    if (i >= chunk.length) return 'bad';
  }
  const ch = chunk[i]!.codePointAt(0)!;
  i++;
  if (i >= chunk.length) return 'bad';
  return { ch, next: i };
}
