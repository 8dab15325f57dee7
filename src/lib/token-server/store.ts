/**
 * The token service's state: clusters and their entries with absolute expiry times, persisted to a
 * JSON data file (written to a temporary file, then renamed, so a crash never leaves half a file).
 * Expiry is wall-clock based, so entries keep their remaining TTL across a restart.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
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

export class TokenStore {
  private clusters = new Map<string, ClusterRecord>();
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;

  private constructor(
    readonly path: string | undefined,
    private readonly now: () => number,
  ) {}

  /** Opens (or starts) the data file; a corrupt file is an error, never silently overwritten. */
  static async open(path: string | undefined, now: () => number = Date.now): Promise<TokenStore> {
    const store = new TokenStore(path, now);
    if (!path) return store;
    let text: string | undefined;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new UserError(`cannot read data file ${path}: ${errorMessage(err)}`);
      }
    }
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
    await mkdir(dirname(path), { recursive: true }).catch((err) => {
      throw new UserError(`cannot create the directory for data file ${path}: ${errorMessage(err)}`);
    });
    store.dirty = true;
    await store.flush();
    return store;
  }

  get clusterCount(): number {
    return this.clusters.size;
  }

  async createCluster(): Promise<string> {
    let token: string;
    do token = randomBytes(16).toString('hex');
    while (this.clusters.has(token));
    this.clusters.set(token, { createdAt: this.now(), entries: {} });
    await this.changed();
    return token;
  }

  has(token: string): boolean {
    return this.clusters.has(token);
  }

  /** Registers or refreshes `entry`; false if the cluster is unknown. */
  async register(token: string, entry: string, ttlMs: number): Promise<boolean> {
    const cluster = this.clusters.get(token);
    if (!cluster) return false;
    cluster.entries[entry] = this.now() + ttlMs;
    await this.changed();
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
    if (!this.clusters.delete(token)) return false;
    await this.changed();
    return true;
  }

  /** Drops expired entries (they are already invisible; this keeps the file small). */
  async purgeExpired(): Promise<number> {
    const now = this.now();
    let removed = 0;
    for (const cluster of this.clusters.values()) {
      for (const [entry, exp] of Object.entries(cluster.entries)) {
        if (exp <= now) {
          delete cluster.entries[entry];
          removed++;
        }
      }
    }
    if (removed) await this.changed();
    return removed;
  }

  private changed(): Promise<void> {
    this.dirty = true;
    return this.flush();
  }

  /** Writes the file if anything changed; concurrent callers share one write chain. */
  flush(): Promise<void> {
    this.writing = this.writing.catch(() => undefined).then(async () => {
      if (!this.path || !this.dirty) return;
      this.dirty = false;
      const data: DataFile = { version: 1, clusters: Object.fromEntries(this.clusters) };
      const tmp = `${this.path}.tmp-${process.pid}`;
      try {
        await writeFile(tmp, JSON.stringify(data), { mode: 0o600 });
        await rename(tmp, this.path);
      } catch (err) {
        this.dirty = true;
        throw new UserError(`cannot write data file ${this.path}: ${errorMessage(err)}`);
      }
    });
    return this.writing;
  }
}
