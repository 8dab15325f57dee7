/**
 * Reading the few things the manager needs from a BuildKit client's `/grpc` connection, without
 * terminating it: HTTP/2 frames (RFC 9113), HPACK header blocks (RFC 7541) to learn each stream's
 * `:path`, the first length-prefixed gRPC message of a stream, and the SolveRequest fields that
 * decide where a build goes (Ref, Session, FrontendAttrs). Pure and bounded: every buffer has a cap,
 * and frames are handed back with their original bytes so they can be forwarded unchanged.
 */

export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const FRAME = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

/** Go's http2 server refuses frames above 1 MiB (its default MaxReadFrameSize); so do we. */
const MAX_FRAME_PAYLOAD = 1 << 20;

export class WireError extends Error {}

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
  /** The frame as received (header + payload), for forwarding byte for byte. */
  raw: Buffer;
}

/** Splits a byte stream into whole frames, optionally after the client connection preface. */
export class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  private prefaceLeft: number;

  constructor(
    expectPreface: boolean,
    private readonly maxPayload = MAX_FRAME_PAYLOAD,
  ) {
    this.prefaceLeft = expectPreface ? H2_PREFACE.length : 0;
  }

  /** Frames completed by `chunk`; `preface` is the preface bytes when they completed in this chunk. */
  push(chunk: Buffer): { preface?: Buffer; frames: Frame[] } {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let preface: Buffer | undefined;
    if (this.prefaceLeft) {
      if (this.buf.length < H2_PREFACE.length) {
        if (!H2_PREFACE.subarray(0, this.buf.length).equals(this.buf)) throw new WireError('not an HTTP/2 connection preface');
        return { frames: [] };
      }
      preface = this.buf.subarray(0, H2_PREFACE.length);
      if (!preface.equals(H2_PREFACE)) throw new WireError('not an HTTP/2 connection preface');
      this.buf = this.buf.subarray(H2_PREFACE.length);
      this.prefaceLeft = 0;
    }
    const frames: Frame[] = [];
    while (this.buf.length >= 9) {
      const length = this.buf.readUIntBE(0, 3);
      if (length > this.maxPayload) throw new WireError(`HTTP/2 frame of ${length} bytes exceeds ${this.maxPayload}`);
      if (this.buf.length < 9 + length) break;
      const raw = this.buf.subarray(0, 9 + length);
      frames.push({ type: raw[3]!, flags: raw[4]!, streamId: raw.readUInt32BE(5) & 0x7fffffff, payload: raw.subarray(9), raw });
      this.buf = this.buf.subarray(9 + length);
    }
    // Keep the unconsumed tail in its own small buffer, not a view pinning the whole chunk.
    if (this.buf.length) this.buf = Buffer.from(this.buf);
    return { preface, frames };
  }
}

export function encodeFrame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(streamId & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

/** An empty SETTINGS frame: "all defaults", the server preface. */
export function settingsFrame(): Buffer {
  return encodeFrame(FRAME.SETTINGS, 0, 0);
}

export function goAwayFrame(lastStreamId: number, errorCode = 0, debug = ''): Buffer {
  const p = Buffer.alloc(8 + Buffer.byteLength(debug));
  p.writeUInt32BE(lastStreamId & 0x7fffffff, 0);
  p.writeUInt32BE(errorCode, 4);
  p.write(debug, 8);
  return encodeFrame(FRAME.GOAWAY, 0, 0, p);
}

/** gRPC status codes the manager answers with. */
export const GRPC = { UNAVAILABLE: 14, FAILED_PRECONDITION: 9, RESOURCE_EXHAUSTED: 8 } as const;

/**
 * A trailers-only gRPC error answer on `streamId`. Encoded with HPACK literals that are never added
 * to the dynamic table, so the client's decoder state stays that of the engine's encoder.
 */
export function grpcErrorFrame(streamId: number, code: number, message: string): Buffer {
  const lit = (name: string, value: string) => {
    const n = Buffer.from(name, 'latin1');
    const v = Buffer.from(value, 'latin1');
    return Buffer.concat([Buffer.from([0x00]), hpackLength(n.length), n, hpackLength(v.length), v]);
  };
  // Percent-encode as gRPC requires for grpc-message (RFC 3986 unreserved and printable ASCII pass).
  const msg = Array.from(Buffer.from(message, 'utf8'), (b) => (b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
  const block = Buffer.concat([Buffer.from([0x88]), lit('content-type', 'application/grpc'), lit('grpc-status', String(code)), lit('grpc-message', msg)]);
  return encodeFrame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, streamId, block);
}

function hpackLength(n: number): Buffer {
  if (n < 127) return Buffer.from([n]);
  const out = [127];
  n -= 127;
  while (n >= 128) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/** The header block fragment of a HEADERS or CONTINUATION frame (padding and priority removed). */
export function headerFragment(f: Frame): Buffer {
  let p = f.payload;
  if (f.type !== FRAME.HEADERS) return p;
  let pad = 0;
  if (f.flags & FLAG.PADDED) {
    if (!p.length) throw new WireError('HEADERS frame too short for its padding');
    pad = p[0]!;
    p = p.subarray(1);
  }
  if (f.flags & FLAG.PRIORITY) p = p.subarray(5);
  if (pad > p.length) throw new WireError('HEADERS padding exceeds the frame');
  return p.subarray(0, p.length - pad);
}

/** The data of a DATA frame without its padding. */
export function dataPayload(f: Frame): Buffer {
  if (!(f.flags & FLAG.PADDED)) return f.payload;
  if (!f.payload.length) throw new WireError('DATA frame too short for its padding');
  const pad = f.payload[0]!;
  if (pad > f.payload.length - 1) throw new WireError('DATA padding exceeds the frame');
  return f.payload.subarray(1, f.payload.length - pad);
}

// ---- HPACK --------------------------------------------------------------------------------------

/* prettier-ignore */
const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''],
  ['etag', ''], ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''],
  ['if-modified-since', ''], ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''],
  ['last-modified', ''], ['link', ''], ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''],
  ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''], ['retry-after', ''],
  ['server', ''], ['set-cookie', ''], ['strict-transport-security', ''], ['transfer-encoding', ''],
  ['user-agent', ''], ['vary', ''], ['via', ''], ['www-authenticate', ''],
];

/**
 * RFC 7541 Appendix B is a canonical Huffman code, so the code length of each symbol (0-255, then
 * EOS) determines every code. One character per symbol: '5'..'9' and 'A'.. for 10 and up.
 */
const HUFFMAN_LENGTHS =
  'DNSSSSSSSOUSSUSSSSSSSSUSSSSSSSSS6AACD68BAA8B8666555666666678F6CAD67777777777777777777777878DJDE6F56565666577666567655677777FBEDSKMKKMMMNMNNNNNONOOMNONNNNLMNMNNOMLKMMNNLNMMOLMNNLLMLNMNNKMMMNMMNQQKJMNMPQQQRRQOPJLQRRQROLLQQSRRRKOKLMLLNMMPPOOQNQRQQRRRRRSRRRRRQU';

interface HuffmanLevel {
  first: number;
  count: number;
  offset: number;
}

const HUFFMAN = (() => {
  const lengths = Array.from(HUFFMAN_LENGTHS, (c) => (c <= '9' ? c.charCodeAt(0) - 48 : c.charCodeAt(0) - 55));
  const symbols = lengths.map((_, s) => s).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  const levels = new Map<number, HuffmanLevel>();
  let code = 0;
  let prevLen = lengths[symbols[0]!]!;
  symbols.forEach((s, i) => {
    const len = lengths[s]!;
    if (i > 0) code = (code + 1) * 2 ** (len - prevLen);
    prevLen = len;
    const level = levels.get(len);
    if (level) level.count++;
    else levels.set(len, { first: code, count: 1, offset: i });
  });
  return { symbols, levels };
})();

function huffmanDecode(src: Buffer): string {
  let out = '';
  let code = 0;
  let len = 0;
  for (const byte of src) {
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      len++;
      const level = HUFFMAN.levels.get(len);
      if (level && code - level.first < level.count && code >= level.first) {
        const sym = HUFFMAN.symbols[level.offset + code - level.first]!;
        if (sym === 256) throw new WireError('HPACK Huffman string contains EOS');
        out += String.fromCharCode(sym);
        code = 0;
        len = 0;
      } else if (len > 30) throw new WireError('invalid HPACK Huffman code');
    }
  }
  // What is left must be a prefix of EOS (all ones) shorter than a byte.
  if (len > 7 || code !== 2 ** len - 1) throw new WireError('invalid HPACK Huffman padding');
  return out;
}

export type HeaderField = [name: string, value: string];

/**
 * An HPACK decoder for one direction of one connection. Strings are latin1 (one char per octet), so
 * entry sizes are exact. It must see every header block of the connection, in order.
 */
export class HpackDecoder {
  private table: HeaderField[] = [];
  private size = 0;
  /** RFC 7541's initial size; the encoder announces any other with a size update. */
  private maxSize = 4096;

  /**
   * `limit`: the largest table size update accepted. The receiving engine enforces its own
   * SETTINGS_HEADER_TABLE_SIZE; this only bounds the memory a reader may be asked to keep.
   */
  constructor(private readonly limit = 65_536) {}

  decode(block: Buffer): HeaderField[] {
    const out: HeaderField[] = [];
    let pos = 0;
    const int = (prefixBits: number): number => {
      if (pos >= block.length) throw new WireError('truncated HPACK integer');
      const mask = (1 << prefixBits) - 1;
      let v = block[pos++]! & mask;
      if (v < mask) return v;
      let m = 0;
      for (;;) {
        if (pos >= block.length) throw new WireError('truncated HPACK integer');
        const b = block[pos++]!;
        v += (b & 0x7f) * 2 ** m;
        m += 7;
        if (!(b & 0x80)) break;
        if (m > 28) throw new WireError('HPACK integer too large');
      }
      return v;
    };
    const str = (): string => {
      if (pos >= block.length) throw new WireError('truncated HPACK string');
      const huffman = (block[pos]! & 0x80) !== 0;
      const n = int(7);
      if (pos + n > block.length) throw new WireError('truncated HPACK string');
      const raw = block.subarray(pos, pos + n);
      pos += n;
      return huffman ? huffmanDecode(raw) : raw.toString('latin1');
    };
    const entry = (index: number): HeaderField => {
      if (index >= 1 && index <= STATIC_TABLE.length) return [...STATIC_TABLE[index - 1]!];
      const e = this.table[index - STATIC_TABLE.length - 1];
      if (!e) throw new WireError(`HPACK index ${index} out of range`);
      return [...e];
    };
    while (pos < block.length) {
      const b = block[pos]!;
      if (b & 0x80) {
        const i = int(7);
        if (i === 0) throw new WireError('HPACK index 0');
        out.push(entry(i));
      } else if (b & 0x40) {
        const i = int(6);
        const name = i ? entry(i)[0] : str();
        const field: HeaderField = [name, str()];
        this.add(field);
        out.push(field);
      } else if (b & 0x20) {
        const size = int(5);
        if (size > this.limit) throw new WireError(`HPACK table size ${size} above ${this.limit}`);
        this.maxSize = size;
        this.evict();
      } else {
        const i = int(4);
        const name = i ? entry(i)[0] : str();
        out.push([name, str()]);
      }
    }
    return out;
  }

  private add(f: HeaderField): void {
    this.table.unshift(f);
    this.size += f[0].length + f[1].length + 32;
    this.evict();
  }

  private evict(): void {
    while (this.size > this.maxSize && this.table.length) {
      const e = this.table.pop()!;
      this.size -= e[0].length + e[1].length + 32;
    }
  }
}

// ---- gRPC and protobuf --------------------------------------------------------------------------

/**
 * Collects a stream's DATA until its first gRPC message (1 flag byte, 4 length bytes, message) is
 * complete, keeping at most `cap` message bytes: `done` with `truncated` when the message is larger.
 */
export interface GrpcMessage {
  message: Buffer;
  /** The message is longer than what was kept (or the stream ended early). */
  truncated: boolean;
  /** The flag byte said compressed (grpc-encoding, gzip for grpc-go). */
  compressed: boolean;
}

export class GrpcMessageReader {
  private parts: Buffer[] = [];
  private have = 0;
  private need = -1;
  private compressed = false;

  constructor(private readonly cap: number) {}

  /** Adds DATA; returns the message (maybe truncated) once complete, the cap reached or the stream ended. */
  push(data: Buffer, endStream: boolean): GrpcMessage | undefined {
    if (this.have < 5 + this.cap) {
      const take = Buffer.from(data.subarray(0, 5 + this.cap - this.have));
      this.parts.push(take);
      this.have += take.length;
    }
    if (this.need < 0 && this.have >= 5) {
      const head = Buffer.concat(this.parts);
      this.parts = [head];
      this.compressed = head[0] === 1;
      this.need = head.readUInt32BE(1);
    }
    if (this.need >= 0 && this.have >= 5 + Math.min(this.need, this.cap)) {
      const n = Math.min(this.need, this.cap);
      return { message: Buffer.concat(this.parts).subarray(5, 5 + n), truncated: n < this.need, compressed: this.compressed };
    }
    if (endStream) return { ...this.partial(), truncated: true };
    return undefined;
  }

  /** What arrived so far, for a decision that cannot wait longer. */
  partial(): GrpcMessage {
    const b = Buffer.concat(this.parts);
    return { message: b.length > 5 ? b.subarray(5) : Buffer.alloc(0), truncated: true, compressed: this.compressed };
  }
}

/** Protobuf wire format fields of one message; stops quietly at a truncated field. */
export function* protoFields(buf: Buffer): Generator<{ field: number; wire: number; bytes?: Buffer; varint?: number }> {
  let pos = 0;
  const varint = (): number | undefined => {
    let v = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (pos >= buf.length) return undefined;
      const b = buf[pos++]!;
      v += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return v;
    }
    throw new WireError('protobuf varint too long');
  };
  while (pos < buf.length) {
    const key = varint();
    if (key === undefined) return;
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) {
      const v = varint();
      if (v === undefined) return;
      yield { field, wire, varint: v };
    } else if (wire === 2) {
      const n = varint();
      if (n === undefined || pos + n > buf.length) return;
      yield { field, wire, bytes: buf.subarray(pos, pos + n) };
      pos += n;
    } else if (wire === 1 || wire === 5) {
      const n = wire === 1 ? 8 : 4;
      if (pos + n > buf.length) return;
      pos += n;
    } else throw new WireError(`unsupported protobuf wire type ${wire}`);
  }
}

export interface SolveInfo {
  ref: string;
  session: string;
  frontend: string;
  frontendAttrs: Map<string, string>;
}

/** moby.buildkit.v1.SolveRequest: Ref = 1, Session = 5, Frontend = 6, FrontendAttrs = 7 (map). */
export function parseSolveRequest(msg: Buffer): SolveInfo {
  const info: SolveInfo = { ref: '', session: '', frontend: '', frontendAttrs: new Map() };
  for (const f of protoFields(msg)) {
    if (!f.bytes) continue;
    if (f.field === 1) info.ref = f.bytes.toString('utf8');
    else if (f.field === 5) info.session = f.bytes.toString('utf8');
    else if (f.field === 6) info.frontend = f.bytes.toString('utf8');
    else if (f.field === 7) {
      let key = '';
      let value = '';
      for (const e of protoFields(f.bytes)) {
        if (e.field === 1 && e.bytes) key = e.bytes.toString('utf8');
        else if (e.field === 2 && e.bytes) value = e.bytes.toString('utf8');
      }
      info.frontendAttrs.set(key, value);
    }
  }
  return info;
}

/** moby.buildkit.v1.StatusRequest: Ref = 1. */
export function parseStatusRef(msg: Buffer): string {
  for (const f of protoFields(msg)) if (f.field === 1 && f.bytes) return f.bytes.toString('utf8');
  return '';
}

/** `build-arg:NAME` frontend attributes as the build args of a legacy build (`constraint:node` → `==node-2`). */
export function buildArgsOf(attrs: Map<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of attrs) if (k.startsWith('build-arg:')) out[k.slice('build-arg:'.length)] = v;
  return out;
}
