/**
 * Splits a byte stream of JSON objects written back to back (Docker's /events, pull progress) into
 * objects. Works whether or not the writer puts newlines between them.
 *
 * Each character is looked at once: the scan state (depth, inside a string) carries over from one
 * chunk to the next and an unfinished object is kept as a list of pieces, so a large object costs
 * time linear in its size, not in its size times the number of chunks it came in. An object larger
 * than `maxObjectBytes` is dropped as it streams (never held whole) and reported to `onOversize`.
 */
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN = 0x7b;
const CLOSE = 0x7d;

export const DEFAULT_MAX_OBJECT_BYTES = 4 * 1024 * 1024;

export class JsonStreamParser {
  private pieces: string[] = [];
  private pieceChars = 0;
  private depth = 0;
  private inString = false;
  private escape = false;
  /** The object in progress went over the limit: its remaining characters are scanned, not kept. */
  private dropping = false;

  constructor(
    private readonly maxObjectBytes = DEFAULT_MAX_OBJECT_BYTES,
    private readonly onOversize?: (bytes: number) => void,
  ) {}

  /** Feeds a chunk; returns the complete objects it finished. Garbage between objects is skipped. */
  push(chunk: string): unknown[] {
    const out: unknown[] = [];
    // Where the object in progress starts in this chunk (0 when it began in an earlier one).
    let start = this.depth > 0 ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (this.inString) {
        if (this.escape) this.escape = false;
        else if (c === BACKSLASH) this.escape = true;
        else if (c === QUOTE) this.inString = false;
        continue;
      }
      if (c === QUOTE) {
        if (this.depth > 0) this.inString = true;
      } else if (c === OPEN) {
        if (this.depth === 0) start = i;
        this.depth++;
      } else if (c === CLOSE && this.depth > 0) {
        this.depth--;
        if (this.depth === 0) {
          this.finish(chunk.slice(start, i + 1), out);
          start = -1;
        }
      }
    }
    if (this.depth > 0) this.keep(chunk.slice(start));
    return out;
  }

  private keep(piece: string): void {
    if (this.dropping) {
      this.pieceChars += piece.length;
      return;
    }
    this.pieces.push(piece);
    this.pieceChars += piece.length;
    if (this.pieceChars > this.maxObjectBytes) {
      this.pieces = [];
      this.dropping = true;
    }
  }

  private finish(lastPiece: string, out: unknown[]): void {
    const size = this.pieceChars + lastPiece.length;
    if (this.dropping || size > this.maxObjectBytes) {
      this.onOversize?.(size);
    } else {
      const text = this.pieces.length ? this.pieces.join('') + lastPiece : lastPiece;
      try {
        out.push(JSON.parse(text));
      } catch {
        /* skip a malformed object */
      }
    }
    this.pieces = [];
    this.pieceChars = 0;
    this.dropping = false;
  }
}
