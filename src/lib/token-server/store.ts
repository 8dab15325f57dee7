/**
 * The token service's state: clusters and their entries with absolute expiry times, persisted as a
 * snapshot (the JSON data file, written to a temporary file and renamed, so a crash never leaves half
 * a file) plus a journal beside it (`<data file>.journal`, one JSON operation a line). A change is
 * acknowledged once its line is appended: writes cost the size of the change, not of the whole state,
 * and changes that arrive while an append is in flight share the next one. The journal is folded into
 * the snapshot when it grows past a bound and at every open; replaying an operation twice is harmless,
 * so a crash between the snapshot's rename and the journal's truncation loses nothing.
 * Expiry is wall-clock based, so entries keep their remaining TTL across a restart. A cluster with no
 * live entry for `clusterTtlMs` is forgotten.
 */
import { randomBytes } from 'node:crypto';
import { appendFile, mkdir, readFile, rename, truncate, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UserError, errorMessage } from '../errors';
import { sortEntries } from '../discovery/entries';

interface ClusterRecord {
  createdAt: number;
  /** host:port → expiry (ms since epoch). */
  entries: Record<string, number>;
}

interface DataFile {
  version: 1;
  clusters: Record<string, ClusterRecord>;
}

type Operation =
  | { op: 'create'; token: string; at: number }
  | { op: 'register'; token: string; entry: string; expires: number }
  | { op: 'delete'; token: string };

/** Clusters idle this long (no live entry) are forgotten unless told otherwise. */
const DEFAULT_CLUSTER_TTL_MS = 30 * 24 * 3600 * 1000;
/** Journal lines beyond which it is folded into the snapshot (also bounded by the state's size). */
const COMPACT_AFTER_LINES = 10_000;

export interface TokenStoreOptions {
  now?: () => number;
  /** 0: clusters never expire. */
  clusterTtlMs?: number;
}

export class TokenStore {
  private clusters = new Map<string, ClusterRecord>();
  private chain: Promise<void> = Promise.resolve();
  private queued: string[] = [];
  private journalLines = 0;
  private readonly now: () => number;
  private readonly clusterTtlMs: number;

  private constructor(
    readonly path: string | undefined,
    opts: TokenStoreOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.clusterTtlMs = opts.clusterTtlMs ?? DEFAULT_CLUSTER_TTL_MS;
  }

  private get journal(): string {
    return `${this.path}.journal`;
  }

  /** Opens (or starts) the data file; a corrupt file is an error, never silently overwritten. */
  static async open(path: string | undefined, opts: TokenStoreOptions | (() => number) = {}): Promise<TokenStore> {
    const store = new TokenStore(path, typeof opts === 'function' ? { now: opts } : opts);
    if (!path) return store;
    const text = await readIfExists(path);
    if (text !== undefined && text.trim()) {
      let data: DataFile;
      try {
        data = JSON.parse(text) as DataFile;
        if (data.version !== 1 || typeof data.clusters !== 'object' || data.clusters === null) throw new Error('unknown layout');
      } catch (err) {
        throw new UserError(`data file ${path} is not a token-server data file (${errorMessage(err)}); move it away or pass another --data-file`);
      }
      for (const [token, rec] of Object.entries(data.clusters)) {
        store.clusters.set(token, { createdAt: Number(rec.createdAt) || 0, entries: { ...rec.entries } });
      }
    }
    const journal = await readIfExists(store.journal);
    if (journal) store.replay(journal);
    await mkdir(dirname(path), { recursive: true }).catch((err) => {
      throw new UserError(`cannot create the directory for data file ${path}: ${errorMessage(err)}`);
    });
    await store.compact();
    return store;
  }

  private replay(journal: string): void {
    const lines = journal.split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (!line) continue;
      let op: Operation;
      try {
        op = JSON.parse(line) as Operation;
      } catch (err) {
        // Only the last line can be torn (a crash in the middle of an append); anything else is damage.
        if (lines.slice(i + 1).every((l) => !l.trim())) break;
        throw new UserError(`journal ${this.journal} is damaged at line ${i + 1} (${errorMessage(err)}); move it away to start from the data file alone`);
      }
      this.apply(op);
    }
  }

  private apply(op: Operation): void {
    if (op.op === 'create') {
      if (!this.clusters.has(op.token)) this.clusters.set(op.token, { createdAt: op.at, entries: {} });
    } else if (op.op === 'register') {
      const cluster = this.clusters.get(op.token);
      if (cluster) cluster.entries[op.entry] = op.expires;
    } else if (op.op === 'delete') this.clusters.delete(op.token);
  }

  get clusterCount(): number {
    return this.clusters.size;
  }

  async createCluster(): Promise<string> {
    let token: string;
    do token = randomBytes(16).toString('hex');
    while (this.clusters.has(token));
    await this.record({ op: 'create', token, at: this.now() });
    return token;
  }

  has(token: string): boolean {
    return this.clusters.has(token);
  }

  /** Registers or refreshes `entry`; false if the cluster is unknown. */
  async register(token: string, entry: string, ttlMs: number): Promise<boolean> {
    if (!this.clusters.has(token)) return false;
    await this.record({ op: 'register', token, entry, expires: this.now() + ttlMs });
    return true;
  }

  /** Live entries of a cluster, or undefined if the cluster is unknown. */
  entries(token: string): string[] | undefined {
    const cluster = this.clusters.get(token);
    if (!cluster) return undefined;
    const now = this.now();
    return sortEntries(Object.entries(cluster.entries).filter(([, exp]) => exp > now).map(([e]) => e));
  }

  async deleteCluster(token: string): Promise<boolean> {
    if (!this.clusters.has(token)) return false;
    await this.record({ op: 'delete', token });
    return true;
  }

  /**
   * Drops expired entries and clusters idle for the cluster TTL. Nothing is journaled: what it drops
   * is invisible already and would be dropped again after a replay (expiry times are persisted).
   */
  async purgeExpired(): Promise<number> {
    const now = this.now();
    let removed = 0;
    for (const [token, cluster] of this.clusters) {
      let lastLive = cluster.createdAt;
      for (const [entry, exp] of Object.entries(cluster.entries)) {
        lastLive = Math.max(lastLive, exp);
        if (exp <= now) {
          delete cluster.entries[entry];
          removed++;
        }
      }
      if (this.clusterTtlMs > 0 && Object.keys(cluster.entries).length === 0 && now - lastLive > this.clusterTtlMs) {
        this.clusters.delete(token);
        removed++;
      }
    }
    return removed;
  }

  /** Applies `op` in memory at once (readers see it) and resolves when its journal line is written. */
  private record(op: Operation): Promise<void> {
    this.apply(op);
    if (!this.path) return Promise.resolve();
    this.queued.push(JSON.stringify(op) + '\n');
    const written = this.chain.then(() => this.appendQueued());
    this.chain = written.catch(() => undefined);
    return written;
  }

  /** Appends every queued line in one write (an earlier call may already have taken this one's). */
  private async appendQueued(): Promise<void> {
    if (!this.queued.length) return;
    const batch = this.queued;
    this.queued = [];
    try {
      await appendFile(this.journal, batch.join(''), { mode: 0o600 });
    } catch (err) {
      this.queued = [...batch, ...this.queued];
      throw new UserError(`cannot write journal ${this.journal}: ${errorMessage(err)}`);
    }
    this.journalLines += batch.length;
    if (this.journalLines > Math.max(COMPACT_AFTER_LINES, this.clusters.size * 2)) await this.compact();
  }

  /** Writes the snapshot from memory, then empties the journal. */
  private async compact(): Promise<void> {
    if (!this.path) return;
    const data: DataFile = { version: 1, clusters: Object.fromEntries(this.clusters) };
    const tmp = `${this.path}.tmp-${process.pid}`;
    try {
      await writeFile(tmp, JSON.stringify(data), { mode: 0o600 });
      await rename(tmp, this.path);
      await truncate(this.journal).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    } catch (err) {
      throw new UserError(`cannot write data file ${this.path}: ${errorMessage(err)}`);
    }
    this.journalLines = 0;
  }

  /** Waits for every acknowledged change to be on disk and folds the journal into the snapshot. */
  flush(): Promise<void> {
    const done = this.chain.then(() => this.appendQueued()).then(() => this.compact());
    this.chain = done.catch(() => undefined);
    return done;
  }
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UserError(`cannot read ${path}: ${errorMessage(err)}`);
  }
}
