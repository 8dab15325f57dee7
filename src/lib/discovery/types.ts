/**
 * The discovery contract every backend implements: watch a set of `host:port` entries, and (for
 * backends that support it) register one entry with a TTL. KV backends (etcd, consul, zk) fit the same
 * shape: watch a directory, write a key with a lease.
 */

export interface DiscoveryConfig {
  /** Polling period (token, file) or watch-retry delay (KV). */
  heartbeatMs: number;
  /** Lifetime of a registration. */
  ttlMs: number;
  /** `--discovery-opt key=value` pairs. */
  options: Record<string, string>;
  /** Base URL of the token discovery service (`--discovery-url`, `SWARM_DISCOVERY_URL`). */
  tokenServiceUrl?: string;
}

export type WatchEvent = { kind: 'entries'; entries: string[] } | { kind: 'error'; error: Error };

export interface Discovery {
  /** The URL scheme the backend was registered under. */
  readonly scheme: string;
  /** Human description of where entries come from, for logs. */
  readonly description: string;
  /**
   * Yields the full entry set (sorted, deduplicated) whenever it may have changed, and errors as they
   * happen; it keeps going after errors until `signal` aborts.
   */
  watch(signal: AbortSignal): AsyncIterable<WatchEvent>;
  /** Registers `addr` once (the caller repeats it every heartbeat). Throws UserError when unsupported. */
  register(addr: string): Promise<void>;
  /** Whether `register` is meaningful (static backends need no join). */
  readonly canRegister: boolean;
  /**
   * Checks, before a manager starts watching, what would otherwise only be logged every heartbeat
   * (a discovery file that does not exist): throws UserError.
   */
  preflight?(): Promise<void>;
}

export type DiscoveryFactory = (rest: string, config: DiscoveryConfig) => Discovery | Promise<Discovery>;
