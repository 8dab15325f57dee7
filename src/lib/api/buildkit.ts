/**
 * BuildKit builds through the manager (`docker build` with buildx's `docker` driver, or `docker
 * buildx build`): every connection of one build is spliced to the one engine the scheduler chose.
 *
 * What a build sends (buildx 0.13, docker CLI 28; read from their sources and seen on the wire):
 *  - `POST /grpc`, `Upgrade: h2c`: a gRPC client connection to the engine's BuildKit. buildx first
 *    probes it (connect, close), then keeps one connection for Control.ListWorkers, its own small
 *    Solves and the build's Solve, Status and LLBBridge calls. The Solve names the build (Ref; the
 *    Status request and the `buildkit-controlapi-buildid` header of LLBBridge calls repeat it) and its
 *    session, and carries the build args as FrontendAttrs `build-arg:<name>`, so
 *    `--build-arg constraint:node==node-2` is there, but only after ListWorkers on that connection.
 *  - `POST /session`, `Upgrade: h2c`, `X-Docker-Expose-Session-Uuid: <id>`: the client's side of the
 *    session (the engine calls into it for the context, secrets, exports). The engine's Solve waits
 *    for the session with the id named in the SolveRequest (buildkit session.Manager.Get).
 *
 * Design:
 *  - /grpc: the manager answers the 101 and the HTTP/2 server preface (an empty SETTINGS frame)
 *    itself and holds the client's bytes until its first call (HPACK-decoded `:path`, plus the gRPC
 *    message for Solve/Status) says where it belongs: a Solve goes where the scheduler places it
 *    with its build args, as a legacy build; a call of a build already placed (by Ref, build id or
 *    session id) follows it; anything else goes to the engine the scheduler picks without arguments.
 *    The engine is then dialled, sent the original request and every held byte, and the connection
 *    becomes a splice of whole frames, unchanged. Only two things never pass: the engine's own 101
 *    (the client had ours) and the client's ACK of our SETTINGS (Go's http2 server, which serves
 *    dockerd's /grpc, fails a connection on an ACK of settings it never sent).
 *  - A Solve arriving on a connection already spliced to an engine that its constraints exclude is
 *    withheld from that engine, with every call after it. The client gets GOAWAY naming the last
 *    stream the engine saw, so grpc-go transparently retries the unprocessed calls on a new /grpc
 *    connection, which the rule above sends to the chosen engine by the build's Ref. Nothing beyond
 *    that stream reaches the old engine (its HPACK decoder never saw the withheld headers).
 *  - /session: left unanswered until a Solve (or a legacy `/build?version=2&session=`) with that id
 *    is placed, then spliced, the engine's own 101 included, to that engine.
 *  - When the engine ends a Solve, its image cache is refreshed before the answer is passed on, so
 *    `docker run` right after the build finds the image.
 *  - Errors (no node meets the constraints, an engine refusing the /grpc upgrade) are answered as
 *    gRPC statuses on the calls, which the client prints. Whether an engine can build is learnt
 *    from its /grpc answer, not from /_ping: dockerd 20.10 sends no Builder-Version header at all.
 *    A refusing engine is left out of build placements for a minute.
 *  - Calls of no build (ListWorkers, DiskUsage, Prune: `buildx du`, `buildx prune`) reach one engine.
 * Bounds: frames 1 MiB, header blocks 1 MiB, held bytes 4 MiB, messages read 1 MiB; a build call
 * waits at most 3 s for its Solve, a held idle connection 30 s, a session 60 s for its build.
 */
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import type { Engine } from '../engine/engine';
import { isConnectionError } from '../engine/health';
import { connectEngine, connectEvent, errorBodyMessage, transportError } from '../engine/http';
import { ApiError, errorMessage } from '../errors';
import { log } from '../log';
import type { Cluster } from '../manager/cluster';
import {
  buildArgsOf,
  dataPayload,
  FLAG,
  FRAME,
  FrameReader,
  goAwayFrame,
  GRPC,
  grpcErrorFrame,
  GrpcMessageReader,
  headerFragment,
  HpackDecoder,
  parseSolveRequest,
  parseStatusRef,
  settingsFrame,
  WireError,
  type Frame,
  type GrpcMessage,
  type HeaderField,
  type SolveInfo,
} from './buildkit-wire';
import { hijack, proxyTo } from './proxy';
import { sendEmpty, socketError } from './respond';
import type { ApiContext, RequestCtx, UpgradeCtx } from './router';

const SOLVE = '/moby.buildkit.v1.Control/Solve';
const STATUS = '/moby.buildkit.v1.Control/Status';
const SESSION_CALL = '/moby.buildkit.v1.Control/Session';
const BRIDGE = '/moby.buildkit.v1.frontend.LLBBridge/';

const PATIENCE_MS = 3_000;
const IDLE_HOLD_MS = 30_000;
const SESSION_WAIT_MS = 60_000;
const REFRESH_TIMEOUT_MS = 10_000;
const MAX_HELD_BYTES = 4 << 20;
const MAX_MESSAGE = 1 << 20;
const MAX_HEADER_BLOCK = 1 << 20;
const MAX_ENGINE_HEAD = 64 << 10;
const PLACED_TTL_MS = 30 * 60_000;
const MAX_PLACED = 10_000;
const NO_BUILDKIT_TTL_MS = 60_000;

/** A build call the manager answers itself, with a gRPC status. */
class BuildError extends Error {
  constructor(
    message: string,
    readonly code: number = GRPC.FAILED_PRECONDITION,
  ) {
    super(message);
  }
}

type Placed = { addr: string } | { error: string };

/** Where the builds of one cluster went: `ref:<Solve ref>`, `session:<id>`, `build:<legacy build id>`. */
class BuildPlacements {
  private placed = new Map<string, Placed & { at: number }>();
  private waiters = new Map<string, Set<(p: Placed | undefined) => void>>();
  /** Engines whose /grpc refused the upgrade, when and how: left out of placements for a while. */
  private refused = new Map<string, { at: number; why: string }>();

  set(key: string, addr: string): void {
    this.put(key, { addr });
  }

  /** The build named by `key` was refused: whoever waits for it gets the error. */
  fail(key: string, error: string): void {
    this.put(key, { error });
  }

  private put(key: string, p: Placed): void {
    const now = Date.now();
    this.placed.delete(key);
    this.placed.set(key, { ...p, at: now });
    // Insertion order is age order: drop from the front what expired or exceeds the cap.
    for (const [k, v] of this.placed) {
      if (this.placed.size <= MAX_PLACED && now - v.at < PLACED_TTL_MS) break;
      this.placed.delete(k);
    }
    for (const wake of [...(this.waiters.get(key) ?? [])]) wake(p);
  }

  private lookup(key: string | undefined): Placed | undefined {
    const p = key ? this.placed.get(key) : undefined;
    return p && Date.now() - p.at < PLACED_TTL_MS ? p : undefined;
  }

  get(key: string | undefined): string | undefined {
    const p = this.lookup(key);
    return p && 'addr' in p ? p.addr : undefined;
  }

  refusal(key: string | undefined): string | undefined {
    const p = this.lookup(key);
    return p && 'error' in p ? p.error : undefined;
  }

  /** Where `key` was placed (or why not), waiting up to timeoutMs; undefined on timeout or abort. */
  wait(key: string, timeoutMs: number, abort: AbortSignal): Promise<Placed | undefined> {
    const now = this.lookup(key);
    if (now || abort.aborted) return Promise.resolve(now);
    return new Promise((resolve) => {
      const set = this.waiters.get(key) ?? new Set();
      this.waiters.set(key, set);
      const done = (p: Placed | undefined) => {
        clearTimeout(timer);
        abort.removeEventListener('abort', onAbort);
        set.delete(done);
        if (!set.size && this.waiters.get(key) === set) this.waiters.delete(key);
        resolve(p);
      };
      const onAbort = () => done(undefined);
      const timer = setTimeout(() => done(undefined), timeoutMs);
      abort.addEventListener('abort', onAbort, { once: true });
      set.add(done);
    });
  }

  noteRefused(addr: string, why: string): void {
    this.refused.set(addr, { at: Date.now(), why });
  }

  /** Why the engine at `addr` cannot build just now, if it refused recently. */
  cannotBuild(addr: string): string | undefined {
    const r = this.refused.get(addr);
    return r && Date.now() - r.at < NO_BUILDKIT_TTL_MS ? r.why : undefined;
  }
}

const placements = new WeakMap<Cluster, BuildPlacements>();

function placementsOf(cluster: Cluster): BuildPlacements {
  let p = placements.get(cluster);
  if (!p) placements.set(cluster, (p = new BuildPlacements()));
  return p;
}

/** The engine for a build (args: its build args, constraints included) among engines that can build. */
function placeBuild(ctx: ApiContext, args: Record<string, string> = {}): Engine {
  const reg = placementsOf(ctx.cluster);
  const engines = ctx.cluster.registered();
  const left = engines.filter((e) => reg.cannotBuild(e.addr)).map((e) => `${e.name}: ${reg.cannotBuild(e.addr)}`);
  if (left.length && left.length === engines.length) throw new BuildError(`no node of the cluster can run BuildKit builds (${left.join('; ')})`);
  try {
    return ctx.placer.placeBuild(args, undefined, (n) => !reg.cannotBuild(n.addr));
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    throw new BuildError(left.length ? `${err.message}\nnot counted, as they cannot run BuildKit builds: ${left.join('; ')}` : err.message);
  }
}

/** Whether the scheduler's filters accept `engine` for a build with these args. */
function accepts(ctx: ApiContext, engine: Engine, args: Record<string, string>): boolean {
  try {
    ctx.placer.placeBuild(args, undefined, (n) => n.addr === engine.addr);
    return true;
  } catch {
    return false;
  }
}

function solveInfo(m: GrpcMessage): SolveInfo {
  let message = m.message;
  if (m.compressed) {
    // A truncated gzip stream cannot be read: the build is then placed without its args.
    try {
      message = m.truncated ? Buffer.alloc(0) : gunzipSync(message, { maxOutputLength: MAX_MESSAGE });
    } catch {
      message = Buffer.alloc(0);
    }
  }
  return parseSolveRequest(message);
}

type CallKind = 'solve' | 'status' | 'session' | 'bridge' | 'other';

interface Call {
  id: number;
  kind: CallKind;
  /** The placement key naming this call's build, once known. */
  key?: string;
  reader?: GrpcMessageReader;
  message?: GrpcMessage;
  solve?: SolveInfo;
}

/** Client bytes in order: the preface or one frame. */
interface Piece {
  raw: Buffer;
  streamId: number;
  /** HEADERS opening a new stream. */
  opens: boolean;
}

/** `cut`: how many held calls (from the first) the engine takes. */
type Decision = 'wait' | { engine: Engine; solves: SolveInfo[]; cut: number };

/** One client /grpc connection: held until its engine is known, then spliced frame by frame. */
class GrpcConnection {
  private readonly socket: Duplex;
  private readonly reg: BuildPlacements;
  private readonly fromClientReader = new FrameReader(true);
  private readonly fromEngineReader = new FrameReader(false);
  private readonly hpack = new HpackDecoder();
  private block?: { id: number; parts: Buffer[]; size: number; opens: boolean; endStream: boolean };
  private lastOpened = 0;
  /** Calls opened while the client's bytes are held, in order. */
  private calls: Call[] = [];
  private held: Piece[] = [];
  private heldBytes = 0;
  private holding = true;
  /** False once waiting has lasted long enough: decide with what is known. */
  private patient = true;
  private timer?: ReturnType<typeof setTimeout>;
  private engine?: Engine;
  private upstream?: net.Socket;
  private connecting = false;
  /** What the decision to connect covered: the held pieces and calls before it. */
  private decided = { pieces: 0, calls: 0 };
  private spliced = false;
  /** A full socket buffer paused the other side. */
  private clientPaused = false;
  private upstreamWaitsDrain = false;
  private clientEnded = false;
  private ackToDrop = true;
  /** Highest stream the engine has seen opened; after a GOAWAY, nothing above it is passed on. */
  private maxForwarded = 0;
  private draining = false;
  /** Solve streams on the engine, watched for their end (image cache refresh). */
  private solves = new Set<number>();
  /** Engine frames waiting for that refresh. */
  private engineHeld?: Frame[];
  private engineEnded = false;
  private closed = false;

  constructor(private readonly ctx: UpgradeCtx) {
    this.socket = ctx.socket;
    this.reg = placementsOf(ctx.cluster);
  }

  start(): void {
    const { req, socket, head } = this.ctx;
    const onData = (d: Buffer | string) => this.fromClient(typeof d === 'string' ? Buffer.from(d, 'latin1') : d);
    // Under bun the bytes after the request head may arrive on `req` rather than the socket.
    if (!req.complete) req.on('data', onData);
    socket.on('data', onData);
    socket.on('end', () => this.clientEnd());
    socket.on('error', (err) => {
      log.debug('BuildKit client connection failed', { error: errorMessage(err) });
      this.close();
    });
    socket.on('close', () => this.close());
    socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
    socket.write(settingsFrame());
    this.arm(IDLE_HOLD_MS);
    if (head?.length) this.fromClient(head);
  }

  // ---- client → engine ----------------------------------------------------------------------------

  private fromClient(chunk: Buffer): void {
    if (this.closed) return;
    try {
      const { preface, frames } = this.fromClientReader.push(chunk);
      if (preface) this.pass({ raw: preface, streamId: 0, opens: false });
      for (const f of frames) this.clientFrame(f);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      log.debug('BuildKit client sent bad HTTP/2', { error: err.message });
      this.close();
      return;
    }
    this.evaluate();
  }

  private clientFrame(f: Frame): void {
    if (f.type === FRAME.SETTINGS && f.flags & FLAG.ACK && this.ackToDrop) {
      this.ackToDrop = false;
      return;
    }
    if (this.draining) {
      if (f.streamId <= this.maxForwarded) this.forward({ raw: f.raw, streamId: f.streamId, opens: false });
      return;
    }
    let opens = false;
    if (f.type === FRAME.HEADERS || f.type === FRAME.CONTINUATION) {
      if (f.type === FRAME.HEADERS) {
        if (this.block) throw new WireError('HEADERS inside another header block');
        opens = f.streamId > this.lastOpened;
        if (opens) {
          this.lastOpened = f.streamId;
          this.hold();
        }
        this.block = { id: f.streamId, parts: [], size: 0, opens, endStream: (f.flags & FLAG.END_STREAM) !== 0 };
      } else if (this.block?.id !== f.streamId) throw new WireError('CONTINUATION without its HEADERS');
      const block = this.block!;
      const fragment = headerFragment(f);
      block.size += fragment.length;
      if (block.size > MAX_HEADER_BLOCK) throw new WireError('header block too large');
      block.parts.push(fragment);
      if (f.flags & FLAG.END_HEADERS) {
        this.block = undefined;
        const fields = this.hpack.decode(Buffer.concat(block.parts));
        if (block.opens) this.opened(block.id, fields, block.endStream);
      }
    } else if (f.type === FRAME.DATA) {
      const call = this.holding ? this.calls.find((c) => c.id === f.streamId) : undefined;
      if (call?.reader && !call.message) call.message = call.reader.push(dataPayload(f), (f.flags & FLAG.END_STREAM) !== 0);
    }
    this.pass({ raw: f.raw, streamId: f.streamId, opens });
  }

  private opened(id: number, fields: HeaderField[], endStream: boolean): void {
    const header = (name: string) => fields.find(([k]) => k === name)?.[1];
    const path = header(':path') ?? '';
    const call: Call = { id, kind: 'other' };
    if (path === SOLVE || path === STATUS) {
      call.kind = path === SOLVE ? 'solve' : 'status';
      call.reader = new GrpcMessageReader(MAX_MESSAGE);
      if (endStream) call.message = call.reader.partial();
    } else if (path === SESSION_CALL) {
      call.kind = 'session';
      const s = header('x-docker-expose-session-uuid');
      if (s) call.key = `session:${s}`;
    } else if (path.startsWith(BRIDGE)) {
      call.kind = 'bridge';
      const b = header('buildkit-controlapi-buildid');
      if (b) call.key = `ref:${b}`;
    }
    if (!this.calls.length) this.arm(PATIENCE_MS);
    this.calls.push(call);
  }

  /** Starts holding the client's bytes (a new call on a spliced connection). */
  private hold(): void {
    if (this.holding) return;
    this.holding = true;
    this.patient = true;
    this.arm(PATIENCE_MS);
  }

  private pass(p: Piece): void {
    if (!this.holding) {
      this.forward(p);
      return;
    }
    this.held.push(p);
    this.heldBytes += p.raw.length;
    if (this.heldBytes > MAX_HELD_BYTES) {
      this.patient = false;
      this.pauseClient();
    }
  }

  private forward(p: Piece): void {
    if (this.draining && p.streamId > this.maxForwarded) return;
    if (p.opens) this.maxForwarded = Math.max(this.maxForwarded, p.streamId);
    const up = this.upstream!;
    if (!up.write(p.raw) && !this.closed && !this.clientPaused) {
      this.pauseClient();
      up.once('drain', () => this.resumeClient());
    }
  }

  private pauseClient(): void {
    this.clientPaused = true;
    this.socket.pause();
    this.ctx.req.pause();
  }

  private resumeClient(): void {
    if (!this.clientPaused || (this.holding && this.heldBytes > MAX_HELD_BYTES)) return;
    this.clientPaused = false;
    this.socket.resume();
    this.ctx.req.resume();
  }

  private arm(ms: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.patient = false;
      this.evaluate();
    }, ms);
  }

  // ---- decisions ----------------------------------------------------------------------------------

  /** The engine of the build `key` names, if placed and healthy; a refused build's calls are refused too. */
  private known(key: string | undefined): Engine | undefined {
    const refused = this.reg.refusal(key);
    if (refused) throw new BuildError(refused);
    const addr = this.reg.get(key);
    const e = addr ? this.ctx.cluster.engines.get(addr) : undefined;
    return e?.isHealthy() ? e : undefined;
  }

  /**
   * Where the held calls go. A call of a build has an engine: a placed build's (by Ref, build id or
   * session id), or for a new Solve the current engine when the filters accept it, else the
   * scheduler's choice; a Status or Session call waits a little for its Solve. The first such engine
   * takes the calls before `cut`, the first call that belongs elsewhere, which is decided after.
   */
  private decide(): Decision {
    const current = this.engine;
    const hasSolve = this.calls.some((c) => c.kind === 'solve');
    for (const call of this.calls) {
      if ((call.kind === 'solve' || call.kind === 'status') && !call.message) {
        if (this.patient) return 'wait';
        call.message = call.reader!.partial();
      }
    }
    let target: Engine | undefined;
    const solves: SolveInfo[] = [];
    for (let i = 0; i < this.calls.length; i++) {
      const call = this.calls[i]!;
      let t: Engine | undefined;
      if (call.kind === 'solve') {
        const info = (call.solve ??= solveInfo(call.message!));
        if (info.ref) call.key = `ref:${info.ref}`;
        t = this.known(call.key);
        if (!t) {
          const args = buildArgsOf(info.frontendAttrs);
          const base = target ?? current;
          t = base && accepts(this.ctx, base, args) ? base : placeBuild(this.ctx, args);
        }
      } else {
        if (call.kind === 'status') {
          const ref = parseStatusRef(call.message!.message);
          if (ref) call.key = `ref:${ref}`;
        }
        t = this.known(call.key);
        if (!t && (call.kind === 'status' || call.kind === 'session') && !hasSolve && this.patient) return 'wait';
      }
      if (t && target && t !== target) return { engine: target, solves, cut: i };
      target ??= t;
      if (call.solve) solves.push(call.solve);
    }
    if (!this.calls.length && this.patient) return 'wait';
    return { engine: target ?? current ?? placeBuild(this.ctx), solves, cut: this.calls.length };
  }

  private evaluate(): void {
    if (this.closed || !this.holding || this.connecting) return;
    let d: Decision;
    try {
      d = this.decide();
    } catch (err) {
      if (!(err instanceof BuildError)) throw err;
      this.refuse(err);
      return;
    }
    if (d === 'wait') return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const s of d.solves) {
      if (s.ref) this.reg.set(`ref:${s.ref}`, d.engine.addr);
      if (s.session) this.reg.set(`session:${s.session}`, d.engine.addr);
    }
    if (d.solves.length) log.debug('BuildKit build placed', { node: d.engine.name, ref: d.solves[0]!.ref });
    const next = this.calls[d.cut];
    const at = next ? this.held.findIndex((p) => p.opens && p.streamId === next.id) : -1;
    this.decided = { pieces: at < 0 ? this.held.length : at, calls: d.cut };
    if (!this.engine) this.connect(d.engine);
    else if (d.engine !== this.engine) this.redirect(d.engine);
    else {
      this.release();
      // Calls past the cut belong elsewhere.
      if (this.holding) this.evaluate();
    }
  }

  /**
   * Passes the held bytes the last decision covered to the engine. Calls opened after it (while
   * connecting) stay held, with the bytes after them, for a decision of their own.
   */
  private release(): void {
    const { pieces, calls } = this.decided;
    for (const c of this.calls.slice(0, calls)) if (c.kind === 'solve' && !this.draining) this.solves.add(c.id);
    this.calls = this.calls.slice(calls);
    let out = this.held.slice(0, pieces);
    this.held = this.held.slice(pieces);
    if (!this.calls.length) {
      out = out.concat(this.held);
      this.held = [];
      this.holding = false;
      this.patient = true;
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
    }
    else this.arm(PATIENCE_MS);
    this.heldBytes = this.held.reduce((n, p) => n + p.raw.length, 0);
    this.decided = { pieces: 0, calls: 0 };
    for (const p of out) this.forward(p);
    this.resumeClient();
  }

  /**
   * The held calls belong on another engine: GOAWAY makes the client retry them on a new connection.
   * grpc-go retries a call that way only once: a Solve moved before gets an error instead.
   */
  private redirect(target: Engine): void {
    log.info('BuildKit build goes to another node; the client reconnects', { from: this.engine?.name, to: target.name });
    for (const c of this.calls) {
      if (c.kind !== 'solve' || !c.message) continue;
      const info = (c.solve ??= solveInfo(c.message));
      if (!info.ref) continue;
      if (!this.reg.get(`moved:${info.ref}`)) {
        this.reg.set(`moved:${info.ref}`, target.addr);
        continue;
      }
      const msg = `this build needs another node than the build its client connection serves on ${this.engine?.name}, and was moved once already: builds for different nodes at once over one client (buildx bake targets) must run one at a time`;
      this.toClient(grpcErrorFrame(c.id, GRPC.FAILED_PRECONDITION, msg));
      this.reg.fail(`ref:${info.ref}`, msg);
      if (info.session) this.reg.fail(`session:${info.session}`, msg);
    }
    this.toClient(goAwayFrame(this.maxForwarded));
    this.draining = true;
    this.decided = { pieces: this.held.length, calls: this.calls.length };
    this.release();
  }

  /** Answers the held calls with `err`: all of them before an engine is chosen, else the Solves. */
  private refuse(err: BuildError): void {
    log.warn('BuildKit build refused', { error: err.message });
    // The refused build's other calls and its session (which the client waits on) end too.
    for (const c of this.calls) {
      if (c.kind !== 'solve') continue;
      if (!c.solve && c.message) c.solve = solveInfo(c.message);
      if (c.solve?.ref) this.reg.fail(`ref:${c.solve.ref}`, err.message);
      if (c.solve?.session) this.reg.fail(`session:${c.solve.session}`, err.message);
    }
    for (const c of this.calls) if (!this.spliced || c.kind === 'solve') this.toClient(grpcErrorFrame(c.id, err.code, err.message));
    if (!this.spliced) {
      this.toClient(goAwayFrame(this.lastOpened));
      this.closed = true;
      if (this.timer) clearTimeout(this.timer);
      this.upstream?.destroy();
      this.socket.end();
      // The client closes on GOAWAY; should it not, the connection goes anyway.
      setTimeout(() => this.socket.destroy(), 5_000).unref();
      return;
    }
    this.decided = { pieces: this.held.length, calls: this.calls.length };
    this.toClient(goAwayFrame(this.maxForwarded));
    this.draining = true;
    this.release();
  }

  // ---- engine ---------------------------------------------------------------------------------

  private connect(engine: Engine): void {
    this.connecting = true;
    this.engine = engine;
    const up = connectEngine(engine.target, { allowHalfOpen: true });
    this.upstream = up;
    up.setKeepAlive(true, 30_000);
    // connectEngine bounds the connect (the transport's connect timeout).
    up.once(connectEvent(engine.target), () => {
      const lines = [`POST /grpc HTTP/1.1`, `Host: ${engine.addr}`];
      const raw = this.ctx.req.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) if (raw[i]!.toLowerCase() !== 'host') lines.push(`${raw[i]}: ${raw[i + 1]}`);
      up.write(lines.join('\r\n') + '\r\n\r\n');
    });
    let head = Buffer.alloc(0);
    let refusal: { status: number; head: string; raw: Buffer; done?: boolean } | undefined;
    const refused = (force: boolean) => {
      const r = refusal!;
      const { body, complete } = responseBody(r.head, r.raw);
      if (r.done || (!complete && !force)) return;
      r.done = true;
      const why = `its /grpc endpoint answered HTTP ${r.status}${body.length ? `: ${errorBodyMessage(body)}` : ''}`;
      this.reg.noteRefused(engine.addr, why);
      up.destroy();
      this.refuse(new BuildError(`node ${engine.name} (${engine.addr}) cannot run BuildKit builds: ${why}`));
    };
    up.on('data', (d: Buffer) => {
      if (this.spliced) return this.fromEngine(d);
      if (refusal) {
        refusal.raw = Buffer.concat([refusal.raw, d]);
        refused(refusal.raw.length > MAX_ENGINE_HEAD);
        return;
      }
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > MAX_ENGINE_HEAD) up.destroy(new Error('engine sent an oversized response head'));
        return;
      }
      const text = head.subarray(0, end).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      const rest = head.subarray(end + 4);
      engine.noteSuccess();
      if (status !== 101) {
        refusal = { status, head: text, raw: Buffer.from(rest) };
        refused(false);
        return;
      }
      this.spliced = true;
      this.connecting = false;
      this.release();
      if (rest.length) this.fromEngine(rest);
      // Calls that arrived while connecting get a decision of their own.
      this.evaluate();
      if (this.clientEnded) this.clientEnd();
    });
    up.on('end', () => {
      if (refusal) refused(true);
      else if (this.spliced) {
        this.engineEnded = true;
        if (!this.engineHeld) this.socket.end();
      } else up.destroy(new Error('engine closed the connection before answering'));
    });
    up.on('error', (e) => {
      if (this.spliced || this.closed) {
        this.close();
        return;
      }
      const err = transportError(e, engine.target);
      if (isConnectionError(err)) engine.noteFailure(err);
      this.refuse(new BuildError(`Cannot reach node ${engine.name} (${engine.addr}): ${errorMessage(err)}`, GRPC.UNAVAILABLE));
    });
    up.on('close', () => {
      if (this.spliced) this.close();
    });
  }

  private fromEngine(chunk: Buffer): void {
    if (this.closed) return;
    let frames: Frame[];
    try {
      frames = this.fromEngineReader.push(chunk).frames;
    } catch (err) {
      log.debug('Engine sent bad HTTP/2 on /grpc', { node: this.engine?.name, error: errorMessage(err) });
      this.close();
      return;
    }
    this.deliver(frames);
  }

  private deliver(frames: Frame[]): void {
    for (const f of frames) {
      if (this.engineHeld) {
        this.engineHeld.push(f);
        continue;
      }
      const ends = (f.flags & FLAG.END_STREAM && (f.type === FRAME.HEADERS || f.type === FRAME.DATA)) || f.type === FRAME.RST_STREAM;
      if (ends && this.solves.delete(f.streamId)) {
        this.engineHeld = [f];
        this.upstreamFlow();
        void this.refreshThenRelease();
        continue;
      }
      this.toClient(f.raw);
    }
    if (!this.engineHeld && this.engineEnded) this.socket.end();
  }

  /** The build is over on the engine: fresh images in the cache before the client hears of it. */
  private async refreshThenRelease(): Promise<void> {
    const engine = this.engine!;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([engine.refreshImages(), new Promise<void>((r) => (timer = setTimeout(r, REFRESH_TIMEOUT_MS)))]).catch((err: unknown) =>
      log.debug('Image refresh after a build failed', { node: engine.name, error: errorMessage(err) }),
    );
    clearTimeout(timer);
    const [end, ...rest] = this.engineHeld ?? [];
    this.engineHeld = undefined;
    if (end) this.toClient(end.raw);
    // What came meanwhile may end another Solve: it is checked as it passes.
    this.deliver(rest);
    this.upstreamFlow();
  }

  private toClient(b: Buffer): void {
    if (this.closed) return;
    if (!this.socket.write(b) && !this.upstreamWaitsDrain) {
      this.upstreamWaitsDrain = true;
      this.upstreamFlow();
      this.socket.once('drain', () => {
        this.upstreamWaitsDrain = false;
        this.upstreamFlow();
      });
    }
  }

  /** The engine's side reads only while the client keeps up and no refresh holds its frames. */
  private upstreamFlow(): void {
    if (this.upstreamWaitsDrain || this.engineHeld) this.upstream?.pause();
    else this.upstream?.resume();
  }

  private clientEnd(): void {
    this.clientEnded = true;
    if (this.spliced) {
      // Whatever is still held is decided now: the client sends nothing more.
      this.patient = false;
      this.evaluate();
      this.upstream?.end();
    } else if (!this.connecting) this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.socket.destroy();
    this.upstream?.destroy();
  }
}

/** An HTTP/1.1 response body read so far; complete by Content-Length or a chunked body's last chunk. */
function responseBody(head: string, raw: Buffer): { body: Buffer; complete: boolean } {
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (length) {
    const n = Number(length[1]);
    return { body: raw.subarray(0, n), complete: raw.length >= n };
  }
  if (!/\r\ntransfer-encoding:\s*chunked/i.test(head)) return { body: raw, complete: false };
  const parts: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', pos);
    if (eol < 0) break;
    const size = parseInt(raw.subarray(pos, eol).toString('latin1'), 16);
    if (!Number.isFinite(size)) break;
    if (size === 0) return { body: Buffer.concat(parts), complete: true };
    if (raw.length < eol + 2 + size + 2) break;
    parts.push(raw.subarray(eol + 2, eol + 2 + size));
    pos = eol + 4 + size;
  }
  return { body: Buffer.concat(parts), complete: false };
}

function checkUpgrade(ctx: UpgradeCtx): void {
  const proto = ctx.req.headers.upgrade;
  if (!proto) throw new ApiError(400, 'no upgrade proto in request');
  if (proto.toLowerCase() !== 'h2c') throw new ApiError(400, `protocol ${proto} not supported`);
}

export function grpcUpgrade(ctx: UpgradeCtx): void {
  checkUpgrade(ctx);
  new GrpcConnection(ctx).start();
}

/** The client side of a build's session, spliced to the engine its Solve went to. */
export async function sessionUpgrade(ctx: UpgradeCtx): Promise<void> {
  checkUpgrade(ctx);
  const header = ctx.req.headers['x-docker-expose-session-uuid'];
  const id = Array.isArray(header) ? header[0] : header;
  const gone = new AbortController();
  const onClose = () => gone.abort();
  ctx.socket.once('close', onClose);
  const placed = id ? await placementsOf(ctx.cluster).wait(`session:${id}`, SESSION_WAIT_MS, gone.signal) : undefined;
  ctx.socket.off('close', onClose);
  if (gone.signal.aborted) return;
  if (placed && 'error' in placed) {
    // Upgraded but never served: the client closes the session once its refused Solve returns, and
    // the Solve's error is what it reports (an error here would race it).
    ctx.socket.on('error', () => ctx.socket.destroy());
    ctx.socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
    ctx.socket.resume();
    const t = setTimeout(() => ctx.socket.destroy(), SESSION_WAIT_MS);
    ctx.socket.once('close', () => clearTimeout(t));
    ctx.socket.once('end', () => ctx.socket.end());
    return;
  }
  let engine = placed ? ctx.cluster.engines.get(placed.addr) : undefined;
  if (!engine) {
    // No build claimed the session in time: the scheduler's engine, so a client that never solves is still served.
    try {
      engine = placeBuild(ctx);
    } catch (err) {
      socketError(ctx.socket, 500, errorMessage(err));
      return;
    }
    log.debug('BuildKit session without a build, placed by the scheduler', { node: engine.name });
  }
  hijack(ctx.req, ctx.socket, ctx.head, engine, '/session');
}

const UPLOAD = 'upload-request:';
const UPLOAD_WAIT_MS = 5_000;

/** A legacy `POST /build` placed on `engine`: BuildKit's version=2 names its session and build id. */
export function noteBuild(ctx: RequestCtx, engine: Engine): void {
  const reg = placementsOf(ctx.cluster);
  const session = ctx.query.get('session');
  const buildId = ctx.query.get('buildid');
  if (session) reg.set(`session:${session}`, engine.addr);
  if (buildId && !buildId.startsWith(UPLOAD)) reg.set(`build:${buildId}`, engine.addr);
}

/**
 * For `/build?buildid=upload-request:<id>` (the context of a version=2 build, sent beside it): the
 * engine of build <id>, waited for as dockerd waits for the upload (5 s); undefined otherwise.
 */
export async function uploadTarget(ctx: RequestCtx): Promise<Engine | undefined> {
  const id = ctx.query.get('buildid');
  if (!id?.startsWith(UPLOAD)) return undefined;
  const gone = new AbortController();
  const onClose = () => gone.abort();
  ctx.res.once('close', onClose);
  const placed = await placementsOf(ctx.cluster).wait(`build:${id.slice(UPLOAD.length)}`, UPLOAD_WAIT_MS, gone.signal);
  ctx.res.off('close', onClose);
  return placed && 'addr' in placed ? ctx.cluster.engines.get(placed.addr) : undefined;
}

/** `POST /build/cancel?id=`: to the engine running that build; unknown builds have nothing to cancel (200, as dockerd). */
export async function cancel(ctx: RequestCtx): Promise<void> {
  const addr = placementsOf(ctx.cluster).get(`build:${ctx.query.get('id') ?? ''}`);
  const engine = addr ? ctx.cluster.engines.get(addr) : undefined;
  if (!engine) {
    ctx.req.resume();
    sendEmpty(ctx.res, 200);
    return;
  }
  await proxyTo(ctx.req, ctx.res, engine, `/build/cancel${ctx.search}`);
}

/** `/grpc` and `/session` without an upgrade. */
export function notUpgraded(): never {
  throw new ApiError(400, 'no upgrade proto in request');
}
