/** Matching a request against the route table (routes.ts): `/path/{param}` patterns, `{name*}` matching across slashes. */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Cluster } from '../manager/cluster';
import type { Placer } from '../manager/scheduling';
import type { PortView } from '../manager/publish-proxy';
import type { SessionAffinity } from '../manager/session-affinity';
import type { GlobalContainers } from '../manager/global';
import type { ReplicaGate } from './replica';
import type { ConnectionLimits } from './guard';
import { ApiError } from '../errors';
import { type BodyLimits } from './respond';
import type { Method, RouteKind, RouteRow } from './routes';

export interface ApiContext {
  cluster: Cluster;
  placer: Placer;
  serverVersion: string;
  strategy: string;
  filters: string[];
  /** --api-enable-cors */
  cors?: boolean;
  /** --refresh-on-node-filter */
  refreshOnNodeFilter?: boolean;
  /** --container-name-refresh-filter */
  containerNameRefreshFilter?: string;
  /** --replication: passes requests to the primary while this manager is a replica. */
  replica?: ReplicaGate;
  /** Global --experimental: reported in /version and /info, nothing else. */
  experimental?: boolean;
  /** --api-max-body, --api-max-json-depth, --api-body-timeout. */
  bodyLimits?: Partial<BodyLimits>;
  /** --api-max-connections, --api-max-connections-per-client. */
  connectionLimits?: ConnectionLimits;
  /** --cluster-opt swarm.publish-proxy: ports are reported as the manager publishes them. */
  publish?: PortView;
  /** --cluster-opt swarm.session-affinity: a client session's objects go to one node. */
  sessions?: SessionAffinity;
  /** Global containers: their creates and the calls that act on every copy. */
  globals?: GlobalContainers;
}

export interface RequestCtx extends ApiContext {
  req: http.IncomingMessage;
  res: http.ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  /** Path without the /v1.NN prefix and query. */
  path: string;
  /** `?query` of the original request ('' when none). */
  search: string;
}

export interface UpgradeCtx extends Omit<RequestCtx, 'res'> {
  socket: Duplex;
  head: Buffer;
}

export type Handler = (ctx: RequestCtx) => Promise<void> | void;
export type UpgradeHandler = (ctx: UpgradeCtx) => Promise<void> | void;

export interface Route {
  method: Method;
  pattern: string;
  kind: RouteKind;
  regex: RegExp;
  keys: string[];
  handler: Handler;
  upgrade?: UpgradeHandler;
}

export function compile(pattern: string): { regex: RegExp; keys: string[] } {
  const keys: string[] = [];
  const src = pattern.replace(/\{(\w+)(\*?)\}/g, (_m, key: string, star: string) => {
    keys.push(key);
    return star ? '(.+)' : '([^/]+)';
  });
  return { regex: new RegExp(`^${src}/?$`), keys };
}

export class Router {
  readonly routes: readonly Route[];

  constructor(rows: readonly RouteRow[]) {
    this.routes = rows.map(([method, pattern, kind, handler, upgrade]) => ({ method, pattern, kind, ...compile(pattern), handler, upgrade }));
  }

  /** The methods some route takes at `path`: a request under another method is a 405 naming them. */
  methodsAt(path: string): string[] {
    return [...new Set(this.routes.filter((r) => r.regex.test(path)).map((r) => r.method))];
  }

  /** The first route for the request's method and path; undefined when none (404, or 405 when methodsAt names some). */
  match(method: string, path: string): { route: Route; params: Record<string, string> } | undefined {
    for (const route of this.routes) {
      if (route.method !== method) continue;
      const m = route.regex.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      route.keys.forEach((k, i) => {
        try {
          params[k] = decodeURIComponent(m[i + 1]!);
        } catch {
          throw new ApiError(400, `malformed escape in path ${JSON.stringify(path)}`);
        }
      });
      return { route, params };
    }
    return undefined;
  }
}
