/**
 * Splits a byte stream of JSON objects written back to back (Docker's /events, pull progress) into
 * objects. Works whether or not the writer puts newlines between them.
 */
export class JsonStreamParser {
  private buf = '';

  /** Feeds a chunk; returns the complete objects it finished. Garbage between objects is skipped. */
  push(chunk: string): unknown[] {
    this.buf += chunk;
    const out: unknown[] = [];
    let depth = 0;
    let inString = false;
    let escape = false;
    let start = -1;
    let consumed = 0;
    for (let i = 0; i < this.buf.length; i++) {
      const c = this.buf[i];
      if (inString) {
        if (escape) escape = false;
        else if (c === '\\') escape = true;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') {
        if (depth > 0) inString = true;
        continue;
      }
      if (c === '{') {
        if (depth === 0) start = i;
        depth++;
      } else if (c === '}' && depth > 0) {
        depth--;
        if (depth === 0 && start >= 0) {
          const text = this.buf.slice(start, i + 1);
          try {
            out.push(JSON.parse(text));
          } catch {
            /* skip a malformed object */
          }
          consumed = i + 1;
          start = -1;
        }
      } else if (depth === 0) {
        consumed = i + 1;
      }
    }
    this.buf = this.buf.slice(consumed);
    return out;
  }
}
