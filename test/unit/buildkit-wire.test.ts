/** The HTTP/2, HPACK, gRPC and protobuf reading that places BuildKit builds (src/lib/api/buildkit-wire.ts). */
import { describe, expect, test } from 'bun:test';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import {
  buildArgsOf,
  dataPayload,
  encodeFrame,
  FLAG,
  FRAME,
  FrameReader,
  goAwayFrame,
  grpcErrorFrame,
  GrpcMessageReader,
  H2_PREFACE,
  headerFragment,
  HpackDecoder,
  parseSolveRequest,
  parseStatusRef,
  protoFields,
  settingsFrame,
  WireError,
  type Frame,
} from '../../src/lib/api/buildkit-wire';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// ---- a minimal protobuf writer for test messages ----
function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Buffer.from(out);
}
const key = (field: number, wire: number) => varint(field * 8 + wire);
const bytesField = (field: number, b: Buffer | string) => {
  const buf = typeof b === 'string' ? Buffer.from(b) : b;
  return Buffer.concat([key(field, 2), varint(buf.length), buf]);
};
const mapEntry = (field: number, k: string, v: string) => bytesField(field, Buffer.concat([bytesField(1, k), bytesField(2, v)]));
const grpcFrame = (msg: Buffer) => {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(msg.length, 1);
  return Buffer.concat([h, msg]);
};

function solveRequest(): Buffer {
  return Buffer.concat([
    bytesField(1, 'ref-123'),
    bytesField(2, Buffer.alloc(300, 7)), // Definition: skipped
    mapEntry(4, 'exporter', 'moby'),
    bytesField(5, 'session-abc'),
    bytesField(6, 'dockerfile.v0'),
    mapEntry(7, 'build-arg:constraint:node', '=node-2'),
    mapEntry(7, 'build-arg:HTTP_PROXY', 'http://p:3128'),
    mapEntry(7, 'context', 'context'),
    bytesField(8, Buffer.alloc(0)),
    Buffer.concat([key(11, 0), varint(1)]), // Internal = true
    Buffer.concat([key(14, 1), Buffer.alloc(8)]), // an unknown fixed64 field
    bytesField(13, bytesField(1, 'moby')),
  ]);
}

describe('HPACK', () => {
  test('RFC 7541 C.3: requests without Huffman coding share one dynamic table', () => {
    const d = new HpackDecoder();
    expect(d.decode(hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d'))).toEqual([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
    ]);
    expect(d.decode(hex('8286 84be 5808 6e6f 2d63 6163 6865'))).toContainEqual(['cache-control', 'no-cache']);
    expect(d.decode(hex('8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65'))).toEqual([
      [':method', 'GET'],
      [':scheme', 'https'],
      [':path', '/index.html'],
      [':authority', 'www.example.com'],
      ['custom-key', 'custom-value'],
    ]);
  });

  test('RFC 7541 C.4: the same requests Huffman coded', () => {
    const d = new HpackDecoder();
    expect(d.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'))).toContainEqual([':authority', 'www.example.com']);
    expect(d.decode(hex('8286 84be 5886 a8eb 1064 9cbf'))).toContainEqual(['cache-control', 'no-cache']);
    expect(d.decode(hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'))).toContainEqual(['custom-key', 'custom-value']);
  });

  test('RFC 7541 C.6: responses with a 256-octet table evict the oldest entries', () => {
    const d = new HpackDecoder();
    // The table size (SETTINGS_HEADER_TABLE_SIZE 256 in the RFC) announced as a size update.
    const first = d.decode(hex('3fe101 4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3'));
    expect(first).toEqual([
      [':status', '302'],
      ['cache-control', 'private'],
      ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
      ['location', 'https://www.example.com'],
    ]);
    expect(d.decode(hex('4883 640e ffc1 c0bf'))[0]).toEqual([':status', '307']);
    const third = d.decode(
      hex(
        '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07',
      ),
    );
    expect(third).toContainEqual(['location', 'https://www.example.com']);
    expect(third).toContainEqual(['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1']);
  });

  test('bad input is a WireError, never a crash', () => {
    expect(() => new HpackDecoder().decode(hex('80'))).toThrow(WireError); // index 0
    expect(() => new HpackDecoder().decode(hex('be'))).toThrow(WireError); // empty dynamic table
    expect(() => new HpackDecoder().decode(hex('4188 f1e3'))).toThrow(WireError); // truncated string
    expect(() => new HpackDecoder().decode(hex('4181 00'))).toThrow(WireError); // Huffman padding of zeros
    expect(() => new HpackDecoder(4096).decode(hex('3fe21f'))).toThrow(WireError); // size update to 4097, above the limit
  });

  test('decodes what a real HTTP/2 client encodes, across many requests', async () => {
    const frames: Frame[] = [];
    let got: () => void = () => undefined;
    const server = net.createServer((s) => {
      const reader = new FrameReader(true);
      s.write(settingsFrame());
      s.on('data', (d: Buffer) => {
        for (const f of reader.push(d).frames) {
          if (f.type === FRAME.HEADERS || f.type === FRAME.CONTINUATION) frames.push(f);
          if (frames.filter((x) => x.flags & FLAG.END_HEADERS).length === 20) got();
        }
      });
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const client = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    client.on('error', () => undefined);
    const done = new Promise<void>((r) => (got = r));
    for (let i = 0; i < 20; i++) {
      const req = client.request({ ':method': 'POST', ':path': i % 2 ? '/moby.buildkit.v1.Control/Solve' : `/moby.buildkit.v1.Control/Status`, 'content-type': 'application/grpc', 'buildkit-controlapi-buildid': `build-${i % 3}` });
      req.on('error', () => undefined);
      req.end();
    }
    await done;
    client.destroy();
    server.close();
    const d = new HpackDecoder();
    const blocks: Buffer[][] = [];
    for (const f of frames) {
      if (f.type === FRAME.HEADERS) blocks.push([]);
      blocks[blocks.length - 1]!.push(headerFragment(f));
    }
    const paths = blocks.map((b) => d.decode(Buffer.concat(b)));
    paths.forEach((fields, i) => {
      expect(fields).toContainEqual([':path', i % 2 ? '/moby.buildkit.v1.Control/Solve' : '/moby.buildkit.v1.Control/Status']);
      expect(fields).toContainEqual(['buildkit-controlapi-buildid', `build-${i % 3}`]);
    });
  });
});

describe('HTTP/2 frames', () => {
  test('the preface and frames come out whole whatever the chunking', () => {
    const data = Buffer.concat([H2_PREFACE, settingsFrame(), encodeFrame(FRAME.DATA, FLAG.END_STREAM, 3, Buffer.from('hello')), goAwayFrame(5, 0, 'bye')]);
    for (const size of [1, 2, 7, 9, 24, 25, 1000]) {
      const r = new FrameReader(true);
      const frames: Frame[] = [];
      let preface: Buffer | undefined;
      for (let i = 0; i < data.length; i += size) {
        const out = r.push(data.subarray(i, i + size));
        preface ??= out.preface;
        frames.push(...out.frames);
      }
      expect(preface?.equals(H2_PREFACE)).toBe(true);
      expect(frames.map((f) => [f.type, f.flags, f.streamId])).toEqual([
        [FRAME.SETTINGS, 0, 0],
        [FRAME.DATA, FLAG.END_STREAM, 3],
        [FRAME.GOAWAY, 0, 0],
      ]);
      expect(Buffer.concat([preface!, ...frames.map((f) => f.raw)]).equals(data)).toBe(true);
      expect(frames[2]!.payload.readUInt32BE(0)).toBe(5);
      expect(frames[2]!.payload.subarray(8).toString()).toBe('bye');
    }
  });

  test('a wrong preface or an oversized frame is refused', () => {
    expect(() => new FrameReader(true).push(Buffer.from('GET / HTTP/1.1\r\n'))).toThrow(WireError);
    const big = Buffer.alloc(9);
    big.writeUIntBE(2 << 20, 0, 3);
    expect(() => new FrameReader(false).push(big)).toThrow(WireError);
  });

  test('padding and priority are stripped from HEADERS and DATA', () => {
    const block = Buffer.from([0x82, 0x86]);
    const headers = encodeFrame(FRAME.HEADERS, FLAG.PADDED | FLAG.PRIORITY | FLAG.END_HEADERS, 1, Buffer.concat([Buffer.from([3]), Buffer.alloc(5), block, Buffer.alloc(3)]));
    const data = encodeFrame(FRAME.DATA, FLAG.PADDED, 1, Buffer.concat([Buffer.from([2]), Buffer.from('ab'), Buffer.alloc(2)]));
    const [h, d] = new FrameReader(false).push(Buffer.concat([headers, data])).frames;
    expect(headerFragment(h!).equals(block)).toBe(true);
    expect(dataPayload(d!).toString()).toBe('ab');
    expect(() => dataPayload({ ...d!, payload: Buffer.from([9, 1]) })).toThrow(WireError);
  });
});

describe('gRPC and protobuf', () => {
  test('a message split over DATA frames is read once complete', () => {
    const msg = grpcFrame(solveRequest());
    const r = new GrpcMessageReader(1 << 20);
    let got;
    for (let i = 0; i < msg.length && !got; i += 17) got = r.push(msg.subarray(i, i + 17), false);
    expect(got?.truncated).toBe(false);
    expect(got?.compressed).toBe(false);
    expect(got?.message.equals(solveRequest())).toBe(true);
  });

  test('at most `cap` bytes are kept; an early end of stream gives what came', () => {
    const msg = grpcFrame(Buffer.alloc(5000, 1));
    const capped = new GrpcMessageReader(100).push(msg, false);
    expect(capped?.truncated).toBe(true);
    expect(capped?.message.length).toBe(100);
    const r = new GrpcMessageReader(1 << 20);
    expect(r.push(msg.subarray(0, 50), false)).toBeUndefined();
    const ended = r.push(Buffer.alloc(0), true);
    expect(ended?.truncated).toBe(true);
    expect(ended?.message.length).toBe(45);
  });

  test('SolveRequest: ref, session, frontend and the build args among the frontend attributes', () => {
    const info = parseSolveRequest(solveRequest());
    expect(info.ref).toBe('ref-123');
    expect(info.session).toBe('session-abc');
    expect(info.frontend).toBe('dockerfile.v0');
    expect(buildArgsOf(info.frontendAttrs)).toEqual({ 'constraint:node': '=node-2', HTTP_PROXY: 'http://p:3128' });
  });

  test('a truncated message yields the fields that arrived whole', () => {
    const full = solveRequest();
    const cut = full.subarray(0, full.indexOf(Buffer.from('build-arg:HTTP_PROXY')));
    const info = parseSolveRequest(cut);
    expect(info.ref).toBe('ref-123');
    expect(info.session).toBe('session-abc');
    expect(buildArgsOf(info.frontendAttrs)).toEqual({ 'constraint:node': '=node-2' });
    expect([...protoFields(full.subarray(0, 3))]).toEqual([]);
  });

  test('StatusRequest ref; wire types other than varint, fixed and bytes are refused', () => {
    expect(parseStatusRef(bytesField(1, 'ref-9'))).toBe('ref-9');
    expect(() => [...protoFields(Buffer.concat([key(1, 3)]))]).toThrow(WireError);
  });

  test('the error answer is a trailers-only response that HPACK reads back', () => {
    const raw = grpcErrorFrame(7, 9, 'node x (1.2.3.4:2375) cannot run\n100% BuildKit builds');
    const [f] = new FrameReader(false).push(raw).frames;
    expect(f!.type).toBe(FRAME.HEADERS);
    expect(f!.streamId).toBe(7);
    expect(f!.flags).toBe(FLAG.END_HEADERS | FLAG.END_STREAM);
    expect(new HpackDecoder().decode(headerFragment(f!))).toEqual([
      [':status', '200'],
      ['content-type', 'application/grpc'],
      ['grpc-status', '9'],
      ['grpc-message', 'node x (1.2.3.4:2375) cannot run%0A100%25 BuildKit builds'],
    ]);
    // A message longer than 126 octets takes a multi-byte HPACK length.
    const long = grpcErrorFrame(1, 9, 'x'.repeat(300));
    const fields = new HpackDecoder().decode(headerFragment(new FrameReader(false).push(long).frames[0]!));
    expect(fields[3]).toEqual(['grpc-message', 'x'.repeat(300)]);
  });
});
