/**
 * A tiny in-process stand-in for a Docker engine (just enough of API 1.41 for the manager's
 * validation, caches, events and a few proxied calls), so Engine/Cluster/API can be unit-tested
 * without dockerd.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeContainer {
  Id: string;
  Names: string[];
  Image: string;
  State: string;
  Labels: Record<string, string>;
  Created: number;
  Memory?: number;
  CpuShares?: number;
  /** Raw HostConfig for the list and inspect, replacing the well-formed one (to test malformed engine data). */
  rawHostConfig?: unknown;
}

export class FakeEngine {
  server: http.Server;
  containers: FakeContainer[] = [];
  eventStreams = new Set<http.ServerResponse>();
  requests: string[] = [];
  /** Request paths as received, version prefix included. */
  rawPaths: string[] = [];
  port = 0;
  /** What /version reports; requests below minApiVersion are refused as dockerd refuses them. */
  apiVersion = '1.41';
  minApiVersion: string | undefined = undefined;
  creates: any[] = [];
  /** Exec instances made here: exec ID → container ID. */
  execs = new Map<string, string>();

  constructor(
    readonly name: string,
    readonly id: string,
    readonly ncpu = 2,
    readonly mem = 2 * 1024 ** 3,
  ) {
    this.server = http.createServer((req, res) => this.handle(req, res));
  }

  async start(port = 0): Promise<string> {
    await new Promise<void>((r) => this.server.listen(port, '127.0.0.1', () => r()));
    this.port = (this.server.address() as AddressInfo).port;
    return `127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const s of this.eventStreams) s.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  emit(ev: object): void {
    for (const s of this.eventStreams) s.write(JSON.stringify(ev) + '\n');
  }

  private json(res: http.ServerResponse, status: number, body: unknown) {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/^\/v1\.\d+/, '');
    this.requests.push(`${req.method} ${path}`);
    this.rawPaths.push(url.pathname);
    const asked = /^\/v(\d+)\.(\d+)\//.exec(url.pathname);
    const min = this.minApiVersion?.split('.').map(Number);
    if (asked && min && (Number(asked[1]) < min[0]! || (Number(asked[1]) === min[0] && Number(asked[2]) < min[1]!))) {
      req.resume();
      return this.json(res, 400, { message: `client version ${asked[1]}.${asked[2]} is too old. Minimum supported API version is ${this.minApiVersion}, please upgrade your client to a newer version` });
    }
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString() || 'null') : undefined;
      if (path === '/info') return this.json(res, 200, { ID: this.id, Name: this.name, NCPU: this.ncpu, MemTotal: this.mem, Driver: 'vfs', KernelVersion: '6.1', OperatingSystem: 'Debian', OSType: 'linux', Labels: ['zone=a'] });
      if (path === '/version') return this.json(res, 200, { Version: '20.10.24', ApiVersion: this.apiVersion, ...(this.minApiVersion ? { MinAPIVersion: this.minApiVersion } : {}) });
      if (path === '/containers/json') {
        const f = url.searchParams.get('filters');
        const ids: string[] = f ? JSON.parse(f).id ?? [] : [];
        const list = this.containers.filter((c) => !ids.length || ids.some((i) => c.Id.startsWith(i)));
        return this.json(res, 200, list.map(({ rawHostConfig, ...c }) => ({ ...c, Status: 'cached', Ports: [], HostConfig: rawHostConfig ?? { NetworkMode: 'default' } })));
      }
      let m = /^\/containers\/([^/]+)\/json$/.exec(path);
      if (m) {
        const c = this.containers.find((x) => x.Id === m![1]);
        if (!c) return this.json(res, 404, { message: `No such container: ${m[1]}` });
        return this.json(res, 200, {
          Id: c.Id,
          Name: c.Names[0],
          State: { Status: c.State, StartedAt: new Date().toISOString() },
          Config: { Image: c.Image, Labels: c.Labels },
          HostConfig: c.rawHostConfig ?? { Memory: c.Memory ?? 0, CpuShares: c.CpuShares ?? 0, NetworkMode: 'default' },
          NetworkSettings: { Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }] } },
        });
      }
      if (path === '/containers/create' && req.method === 'POST') {
        const id = (this.name + Math.random().toString(16).slice(2)).padEnd(64, '0');
        this.creates.push(body);
        this.containers.push({ Id: id, Names: ['/' + (url.searchParams.get('name') || 'auto_' + this.containers.length)], Image: body.Image, State: 'created', Labels: body.Labels ?? {}, Created: Date.now() / 1000, Memory: body.HostConfig?.Memory, CpuShares: body.HostConfig?.CpuShares });
        return this.json(res, 201, { Id: id, Warnings: [] });
      }
      m = /^\/containers\/([^/]+)\/exec$/.exec(path);
      if (m && req.method === 'POST') {
        const c = this.containers.find((x) => x.Id === m![1]);
        if (!c) return this.json(res, 404, { message: `No such container: ${m[1]}` });
        const id = `exec${this.execs.size}`.padEnd(64, 'e');
        this.execs.set(id, c.Id);
        return this.json(res, 201, { Id: id });
      }
      m = /^\/exec\/([^/]+)\/json$/.exec(path);
      if (m) {
        const container = this.execs.get(m[1]!);
        if (!container) return this.json(res, 404, { message: `No such exec instance: ${m[1]}` });
        return this.json(res, 200, { ID: m[1], ContainerID: container, Running: false, ExitCode: 0 });
      }
      m = /^\/containers\/([^/]+)\/(start|stop)$/.exec(path);
      if (m) {
        const c = this.containers.find((x) => x.Id === m![1]);
        if (!c) return this.json(res, 404, { message: `No such container: ${m[1]}` });
        c.State = m[2] === 'start' ? 'running' : 'exited';
        res.writeHead(204);
        return res.end();
      }
      if (path === '/images/json') return this.json(res, 200, [{ Id: 'sha256:bb', RepoTags: ['busybox:latest'], RepoDigests: [], Created: 1, Size: 1 }]);
      if (path === '/networks') return this.json(res, 200, [{ Id: this.name + 'net', Name: 'bridge', Driver: 'bridge', Scope: 'local' }]);
      if (path === '/volumes') return this.json(res, 200, { Volumes: [], Warnings: null });
      if (path === '/events') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.flushHeaders();
        this.eventStreams.add(res);
        res.on('close', () => this.eventStreams.delete(res));
        return;
      }
      this.json(res, 404, { message: 'page not found' });
    });
  }
}
