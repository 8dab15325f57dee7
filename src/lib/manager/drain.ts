/**
 * Beyond v1 (its maintenance mode never shipped, classicswarm#2134): node availability. A drained node
 * keeps its containers but the scheduler places nothing new on it (the scheduler's drain rule runs
 * before every filter, for creates, builds, network picks and rescheduling alike).
 *
 * Where the state lives, so a drain is never lost silently:
 * - at run time: `POST /_swarm/nodes/{node}/drain|activate` (the `swarm node drain|activate` CLI);
 * - across manager restarts: with `--cluster-opt swarm.drain.state-file=<path>` every change is written
 *   to that JSON file (atomically) before it is acknowledged, and read back at start; without it the
 *   API answers `"Persisted": false` and the CLI warns that the drain ends with this manager;
 * - on the engine: a daemon started with `--label com.docker.swarm.drain=true` is drained from the
 *   moment it joins, by every manager (HA replicas included), until activated at run time.
 * Nodes are keyed by name (the engine's hostname: what `docker info` and `node==` show), so a drain
 * survives the engine changing address or ID.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { UserError, errorMessage } from '../errors';

/** Engine label (`dockerd --label com.docker.swarm.drain=true`) that drains a node from the start. */
export const DRAIN_LABEL = 'com.docker.swarm.drain';

export type Availability = 'active' | 'drain';

export interface AvailabilityOverride {
  availability: Availability;
  /** When it was set (RFC 3339). */
  since: string;
}

interface StateFile {
  version: 1;
  nodes: Record<string, AvailabilityOverride>;
}

/** Whether a node's engine labels ask for it to start drained. */
export function labelDrains(labels: Record<string, string>): boolean {
  const v = labels[DRAIN_LABEL];
  return v !== undefined && ['true', '1', 'yes', 'drain'].includes(v.trim().toLowerCase());
}

export class DrainState {
  /** Availability set at run time, by node name; wins over the engine label. */
  private readonly overrides = new Map<string, AvailabilityOverride>();

  /** `stateFile`: where changes are persisted (undefined: in memory only). */
  constructor(readonly stateFile?: string) {}

  get persistent(): boolean {
    return this.stateFile !== undefined;
  }

  /** Reads the state file (a missing file is an empty state); a corrupt one is a start-up error. */
  load(): void {
    if (!this.stateFile || !existsSync(this.stateFile)) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(this.stateFile, 'utf8'));
    } catch (err) {
      throw new UserError(`cannot read drain state file ${this.stateFile}: ${errorMessage(err)}`);
    }
    const nodes = (parsed as Partial<StateFile> | null)?.nodes;
    if (typeof nodes !== 'object' || nodes === null || Array.isArray(nodes)) {
      throw new UserError(`drain state file ${this.stateFile} is not a swarm drain state file (expected {"version":1,"nodes":{...}})`);
    }
    for (const [name, entry] of Object.entries(nodes as Record<string, Partial<AvailabilityOverride>>)) {
      if (entry?.availability === 'active' || entry?.availability === 'drain') {
        this.overrides.set(name, { availability: entry.availability, since: typeof entry.since === 'string' ? entry.since : '' });
      }
    }
  }

  /** Whether nothing new may land on the node `name` (with engine labels `labels`). */
  isDrained(name: string, labels: Record<string, string> = {}): boolean {
    const o = this.overrides.get(name);
    return o ? o.availability === 'drain' : labelDrains(labels);
  }

  /** The run-time setting for `name`, if any. */
  override(name: string): AvailabilityOverride | undefined {
    return this.overrides.get(name);
  }

  /**
   * Sets a node's availability; persisted before it takes effect (a failed write throws and changes
   * nothing). Activating a node whose engine label does not drain it just forgets the override.
   */
  set(name: string, availability: Availability, labels: Record<string, string> = {}, now = new Date()): AvailabilityOverride {
    const next = new Map(this.overrides);
    const entry: AvailabilityOverride = { availability, since: now.toISOString().replace(/\.\d{3}Z$/, 'Z') };
    if (availability === 'active' && !labelDrains(labels)) next.delete(name);
    else next.set(name, entry);
    this.save(next);
    this.overrides.clear();
    for (const [k, v] of next) this.overrides.set(k, v);
    return entry;
  }

  private save(overrides: Map<string, AvailabilityOverride>): void {
    if (!this.stateFile) return;
    const state: StateFile = { version: 1, nodes: Object.fromEntries([...overrides].sort(([a], [b]) => a.localeCompare(b))) };
    const tmp = join(dirname(this.stateFile), `.${basename(this.stateFile)}.${process.pid}.tmp`);
    try {
      writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n');
      renameSync(tmp, this.stateFile);
    } catch (err) {
      throw new Error(`cannot write drain state file ${this.stateFile}: ${errorMessage(err)}`);
    }
  }
}
