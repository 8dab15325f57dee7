/**
 * Session co-location (--cluster-opt swarm.session-affinity=true, beyond v1). Test libraries mark
 * each run: Testcontainers for Java sends the header `x-tc-sid` on every request, and Testcontainers
 * for Node, Java and Go label the containers and networks they create with the session. A session's
 * containers and networks are placed on the node where the session already has one, as a soft
 * constraint (`node==~<node>`): a node that cannot take it sends it elsewhere, a hard `node==` wins.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Engine } from '../engine/engine';

const SESSION_HEADER = 'x-tc-sid';
/** Labels with the session: Testcontainers for Node and Go, and for Java. */
const SESSION_LABELS = ['org.testcontainers.session-id', 'org.testcontainers.sessionId'];
const KNOWN_SESSIONS = 10_000;
const SESSION_ID = /^[\w.:-]{1,128}$/;

export interface SessionCluster {
  registered(): Pick<Engine, 'name' | 'isHealthy' | 'containers' | 'networks'>[];
}

/** The session of a request: its header, else the labels of the object it creates. */
export function sessionOf(headers: IncomingHttpHeaders, labels?: Record<string, unknown> | null): string | undefined {
  const h = headers[SESSION_HEADER];
  const fromHeader = Array.isArray(h) ? h[0] : h;
  if (fromHeader && SESSION_ID.test(fromHeader)) return fromHeader;
  for (const key of SESSION_LABELS) {
    const v = labels?.[key];
    if (typeof v === 'string' && SESSION_ID.test(v)) return v;
  }
  return undefined;
}

function labelsOf(body: unknown): Record<string, unknown> | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const labels = (body as { Labels?: unknown }).Labels;
  return labels && typeof labels === 'object' && !Array.isArray(labels) ? (labels as Record<string, unknown>) : undefined;
}

export class SessionAffinity {
  /** Session → the node its last object went to (newest last, oldest forgotten first). */
  private readonly nodes = new Map<string, string>();

  constructor(private readonly cluster: SessionCluster) {}

  /** The session of a create request (container or network body). */
  session(headers: IncomingHttpHeaders, body: unknown): string | undefined {
    return sessionOf(headers, labelsOf(body));
  }

  /** The soft constraint that sends a session's next object to its node ([] for a new session). */
  constraints(session: string | undefined): string[] {
    const node = session ? this.nodeOf(session) : undefined;
    return node ? [`node==~${node}`] : [];
  }

  /** A session's object was created on `node`. */
  remember(session: string | undefined, node: string | undefined): void {
    if (!session || !node) return;
    this.nodes.delete(session);
    this.nodes.set(session, node);
    if (this.nodes.size > KNOWN_SESSIONS) this.nodes.delete(this.nodes.keys().next().value!);
  }

  /** Where the session lives: as remembered, else (after a manager restart) by its labelled objects. */
  private nodeOf(session: string): string | undefined {
    const engines = this.cluster.registered().filter((e) => e.isHealthy());
    const known = this.nodes.get(session);
    if (known && engines.some((e) => e.name === known)) return known;
    for (const e of engines) {
      for (const c of e.containers.values()) if (SESSION_LABELS.some((k) => c.summary?.Labels?.[k] === session)) return e.name;
      for (const n of e.networks.values()) if (SESSION_LABELS.some((k) => n.Labels?.[k] === session)) return e.name;
    }
    return undefined;
  }
}
