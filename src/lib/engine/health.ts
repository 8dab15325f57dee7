/**
 * The life of one engine as the manager sees it (spec §4.1–4.2), as a pure state machine: no sockets,
 * no timers. The Engine adapter feeds it outcomes (validated, call succeeded, call failed) and acts on
 * the transitions it returns (log, emit swarm events, restart streams).
 */
import { errorMessage } from '../errors';
import { TransportError, type TransportErrorKind } from './http';

export type EngineState = 'pending' | 'healthy' | 'unhealthy' | 'disconnected';

/** What the caller should announce after an outcome: swarm events engine_connect / _disconnect / _reconnect. */
export type HealthTransition = 'connect' | 'disconnect' | 'reconnect' | null;

export const STATE_LABEL: Record<EngineState, string> = {
  pending: 'Pending',
  healthy: 'Healthy',
  unhealthy: 'Unhealthy',
  disconnected: 'Disconnected',
};

/** Transport failures that mean "could not reach the daemon": they count towards Unhealthy (TLS and protocol failures do not). */
const UNREACHABLE: ReadonlySet<TransportErrorKind> = new Set(['connect', 'timeout', 'reset']);

/** Whether a failed call counts towards Unhealthy: decided on the transport's typed error, never on its text. */
export function isConnectionError(err: unknown): boolean {
  return err instanceof TransportError && UNREACHABLE.has(err.kind);
}

/**
 * What a client is told when a call to a node's engine failed: for a connection error the docker
 * client's own words (`Cannot connect to the Docker daemon at tcp://…`), naming the node.
 */
export function unreachableMessage(node: { name: string; addr: string }, err: unknown): string {
  const detail = errorMessage(err);
  if (isConnectionError(err)) return `Cannot connect to the Docker daemon at tcp://${node.addr} (node ${node.name}): ${detail}. Is the docker daemon running?`;
  return `Cannot reach node ${node.name} (${node.addr}): ${detail}`;
}

/** Engine state changes so far, all engines together: views over every engine's state are kept while it holds. */
let stateChanges = 0;

export function engineStateChanges(): number {
  return stateChanges;
}

/** What else such views read changed (an engine's negotiated API version). */
export function noteEngineStateChange(): void {
  stateChanges++;
}

export class EngineHealth {
  /** Read by all; changed only by the outcomes below (private setters). */
  private readonly now = { state: 'pending' as EngineState, failureCount: 0, lastError: '' };

  get state(): EngineState {
    return this.now.state;
  }
  private set state(v: EngineState) {
    if (v !== this.now.state) stateChanges++;
    this.now.state = v;
  }
  get failureCount(): number {
    return this.now.failureCount;
  }
  private set failureCount(v: number) {
    this.now.failureCount = v;
  }
  get lastError(): string {
    return this.now.lastError;
  }
  private set lastError(v: string) {
    this.now.lastError = v;
  }

  constructor(readonly failureRetry: number) {}

  /** Validation (info + version + first refresh) passed. */
  validated(): HealthTransition {
    if (this.state === 'disconnected') return null;
    const was = this.state;
    this.state = 'healthy';
    this.failureCount = 0;
    this.lastError = '';
    return was === 'pending' ? 'connect' : was === 'unhealthy' ? 'reconnect' : null;
  }

  /** Validation failed: stays Pending, remembers why (retried with back-off). */
  validationFailed(error: string): void {
    if (this.state === 'disconnected') return;
    this.state = 'pending';
    this.failureCount++;
    this.lastError = error;
  }

  /** Any call to a registered engine worked: the count resets, an unhealthy engine comes back. */
  success(): HealthTransition {
    if (this.state !== 'healthy' && this.state !== 'unhealthy') return null;
    const was = this.state;
    this.failureCount = 0;
    this.lastError = '';
    this.state = 'healthy';
    return was === 'unhealthy' ? 'reconnect' : null;
  }

  /** A call failed. Only connection errors count; reaching the threshold flags the engine Unhealthy. */
  failure(error: string, connection: boolean): HealthTransition {
    if (this.state !== 'healthy' && this.state !== 'unhealthy') return null;
    this.lastError = error;
    if (!connection) return null;
    this.failureCount++;
    if (this.state === 'healthy' && this.failureCount >= this.failureRetry) {
      this.state = 'unhealthy';
      return 'disconnect';
    }
    return null;
  }

  /** A validated engine reported another daemon ID: back to Pending until an operator sorts it out. */
  backToPending(error: string): HealthTransition {
    if (this.state === 'disconnected') return null;
    const was = this.state;
    this.state = 'pending';
    this.lastError = error;
    return was === 'healthy' ? 'disconnect' : null;
  }

  /** The address left discovery. */
  disconnect(): HealthTransition {
    const was = this.state;
    this.state = 'disconnected';
    return was === 'healthy' ? 'disconnect' : null;
  }

  /** 0..100 as the health filter and strategies use it. */
  indicator(): number {
    if (this.state !== 'healthy' || this.failureCount >= this.failureRetry) return 0;
    return 100 - Math.floor((this.failureCount * 100) / this.failureRetry);
  }

  isSchedulable(): boolean {
    return this.indicator() > 0;
  }

  /** Delay before the next refresh: min × (1+backoff) + rand[0, max−min), backoff = clamp(failures − retry, 0, 1000). */
  refreshDelay(minMs: number, maxMs: number, random = Math.random()): number {
    const backoff = Math.min(Math.max(this.failureCount - this.failureRetry, 0), 1000);
    return minMs * (1 + backoff) + Math.floor(random * Math.max(maxMs - minMs, 0));
  }

  /** Pending engines are retried once 2^failures s + base have passed since the last attempt (capped at 4 h). */
  pendingRetryDue(nowMs: number, lastAttemptMs: number, baseMs = 30_000): boolean {
    const wait = Math.min(2 ** Math.min(this.failureCount, 30) * 1000 + baseMs, 4 * 3600_000);
    return nowMs - lastAttemptMs >= wait;
  }
}
