/**
 * Beyond v1: node availability over HTTP, outside the Docker API namespace (Docker's own `/nodes` and
 * `/swarm` belong to swarm mode and stay 404 here, as in v1). Used by `swarm node ls|drain|activate`.
 *
 *   GET  /_swarm/nodes                   every node with its status and availability
 *   POST /_swarm/nodes/{node}/drain      nothing new lands on the node; its containers keep running
 *   POST /_swarm/nodes/{node}/activate   the node takes new containers again
 *
 * `{node}` is a node name, engine ID, daemon ID or `host:port`. Replicas pass these to the primary like
 * any other call. Answers are JSON; errors are `{"message"}` with 404 for an unknown node.
 */
import type { Engine } from '../engine/engine';
import { labelDrains, type Availability, type DrainState } from '../manager/drain';
import type { Cluster } from '../manager/cluster';
import { ApiError } from '../errors';
import { sendJson } from './respond';
import type { RequestCtx } from './router';

export const NODES_PATH = '/_swarm/nodes';

export interface NodeAvailability {
  Name: string;
  Addr: string;
  ID: string;
  Status: string;
  Availability: Availability;
  /** Why: `api` (set at run time), `label` (engine label com.docker.swarm.drain) or `default`. */
  Source: 'api' | 'label' | 'default';
  /** When it was set at run time (RFC 3339), '' otherwise. */
  Since: string;
  Containers: number;
  Running: number;
}

export interface AvailabilityChange extends NodeAvailability {
  /** Whether the change is written to --cluster-opt swarm.drain.state-file (survives a manager restart). */
  Persisted: boolean;
  StateFile: string;
}

function drainOf(cluster: Cluster): DrainState {
  const drain = cluster.opts.drain;
  if (!drain) throw new ApiError(501, 'node availability is not enabled on this manager');
  return drain;
}

function describe(engine: Engine, drain: DrainState): NodeAvailability {
  const override = drain.override(engine.name);
  let running = 0;
  for (const c of engine.containers.values()) {
    const state = c.inspect?.State?.Status ?? c.summary?.State;
    if (state === 'running' || state === 'restarting' || state === 'paused') running++;
  }
  return {
    Name: engine.name,
    Addr: engine.addr,
    ID: engine.id,
    Status: engine.stateLabel,
    Availability: drain.isDrained(engine.name, engine.labels) ? 'drain' : 'active',
    Source: override ? 'api' : labelDrains(engine.labels) ? 'label' : 'default',
    Since: override?.since ?? '',
    Containers: engine.containers.size,
    Running: running,
  };
}

/** The node named by `ref` (name, engine ID, daemon ID, host:port) among the validated engines. */
function findNode(cluster: Cluster, ref: string): Engine {
  const engine = cluster.engineByNode(ref);
  if (!engine || !engine.name) throw new ApiError(404, `No such node: ${ref}`);
  return engine;
}

function setAvailability(ctx: RequestCtx, availability: Availability): void {
  ctx.req.resume();
  const drain = drainOf(ctx.cluster);
  const engine = findNode(ctx.cluster, ctx.params.node ?? '');
  try {
    drain.set(engine.name, availability, engine.labels);
  } catch (err) {
    throw new ApiError(500, err instanceof Error ? err.message : String(err));
  }
  // An active node takes the copies of global containers (manager/global.ts).
  if (availability === 'active') ctx.cluster.bus.emit('swarm', 'node_activate', engine);
  const body: AvailabilityChange = { ...describe(engine, drain), Persisted: drain.persistent, StateFile: drain.stateFile ?? '' };
  sendJson(ctx.res, 200, body);
}

export function listNodes(ctx: RequestCtx): void {
  ctx.req.resume();
  const drain = drainOf(ctx.cluster);
  const nodes = ctx.cluster
    .registered()
    .map((e) => describe(e, drain))
    .sort((a, b) => a.Name.localeCompare(b.Name, 'en', { numeric: true }));
  sendJson(ctx.res, 200, nodes);
}

export const drainNode = (ctx: RequestCtx): void => setAvailability(ctx, 'drain');
export const activateNode = (ctx: RequestCtx): void => setAvailability(ctx, 'active');
