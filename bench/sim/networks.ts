/**
 * One engine's networks (bridge, host, none, compose's and the API's) and what a running container
 * takes from them: an IP and MAC per endpoint, and host ports for its published ports.
 */
import { ApiError } from '../../src/lib/errors';
import { labelsMatch, parseFilters } from '../../src/lib/api/respond';
import { checkFilterKeys } from './filters';
import { asObject, asStringMap, type Json, type JsonObject } from './json';
import type { Container, Network, PublishedPorts } from './model';
import { isoTime, type Rng } from './random';

export class NetworkTable {
  readonly all: Network[] = [];
  private readonly usedHostPorts = new Set<number>();
  private nextHostPort = 32768;

  constructor(
    private readonly rng: Rng,
    bootMs: number,
  ) {
    const created = isoTime(bootMs - 86_400_000 * 30);
    this.all.push(
      {
        id: rng.hex(64),
        name: 'bridge',
        driver: 'bridge',
        scope: 'local',
        created: isoTime(bootMs - 1000),
        subnet: '172.17.0.0/16',
        gateway: '172.17.0.1',
        builtin: true,
        octet: 17,
        labels: {},
        internal: false,
        attachable: false,
        usedIps: new Set(),
        nextIp: 2,
        options: {
          'com.docker.network.bridge.default_bridge': 'true',
          'com.docker.network.bridge.enable_icc': 'true',
          'com.docker.network.bridge.enable_ip_masquerade': 'true',
          'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
          'com.docker.network.bridge.name': 'docker0',
          'com.docker.network.driver.mtu': '1500',
        },
      },
      plainNetwork(rng.hex(64), 'host', 'host', created),
      plainNetwork(rng.hex(64), 'none', 'null', created),
    );
  }

  lookup(ref: string): Network | undefined {
    return this.all.find((n) => n.id === ref) ?? this.all.find((n) => n.name === ref) ?? (ref ? this.all.filter((n) => n.id.startsWith(ref)).at(0) : undefined);
  }

  lookupOrThrow(ref: string): Network {
    const n = this.lookup(ref);
    if (!n) throw new ApiError(404, `network ${ref} not found`);
    return n;
  }

  /** The next free 172.x.0.0/16 (x from 18, at most `maxOctet`), or undefined. */
  private freeOctet(maxOctet: number): number | undefined {
    const used = new Set(this.all.map((n) => n.octet));
    let octet = 18;
    while (used.has(octet) && octet < maxOctet) octet++;
    return used.has(octet) ? undefined : octet;
  }

  /** A user-defined bridge network, as compose makes them. */
  add(name: string, labels: Record<string, string>): Network {
    const octet = this.freeOctet(254) ?? 254;
    const n = userNetwork(this.rng.hex(64), name, 'bridge', isoTime(Date.now() - 86_400_000 * 21), octet);
    n.labels = labels;
    this.all.push(n);
    return n;
  }

  /** POST /networks/create; dockerd's default pools run out after 172.31. */
  create(body: JsonObject): Network {
    const name = typeof body.Name === 'string' ? body.Name : '';
    if (!name) throw new ApiError(400, 'network name is required');
    if (['bridge', 'host', 'none', 'default'].includes(name)) throw new ApiError(403, `${name} is a pre-defined network and cannot be created`);
    if (this.all.some((n) => n.name === name)) throw new ApiError(409, `network with name ${name} already exists`);
    const driver = typeof body.Driver === 'string' && body.Driver ? body.Driver : 'bridge';
    if (!['bridge', 'overlay', 'macvlan', 'ipvlan'].includes(driver)) throw new ApiError(404, `plugin "${driver}" not found`);
    const octet = this.freeOctet(31);
    if (octet === undefined) throw new ApiError(403, 'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
    const n = userNetwork(this.rng.hex(64), name, driver, isoTime(Date.now()), octet);
    n.scope = driver === 'overlay' ? 'global' : 'local';
    n.options = asStringMap(body.Options);
    n.labels = asStringMap(body.Labels);
    n.internal = body.Internal === true;
    n.attachable = body.Attachable === true;
    this.all.push(n);
    return n;
  }

  /** DELETE /networks/{id}: refused for the built-in ones and while a container is connected. */
  remove(ref: string, containers: Iterable<Container>): Network {
    const n = this.lookupOrThrow(ref);
    if (n.builtin) throw new ApiError(403, `${n.name} is a pre-defined network and cannot be removed`);
    for (const c of containers) {
      if (c.endpoints.some((ep) => ep.network === n.name && ep.endpointId)) throw new ApiError(403, `error while removing network: network ${n.name} id ${n.id} has active endpoints`);
    }
    this.all.splice(this.all.indexOf(n), 1);
    return n;
  }

  private allocIp(net: Network): number {
    for (let tries = 0; tries < 65533; tries++) {
      const n = net.nextIp;
      net.nextIp = net.nextIp >= 65534 ? 2 : net.nextIp + 1;
      if (!net.usedIps.has(n)) {
        net.usedIps.add(n);
        return n;
      }
    }
    throw new ApiError(500, 'no available IPv4 addresses on this network');
  }

  /**
   * Allocates IPs, MACs and host ports for a starting container. A host port already taken throws
   * Docker's error when `strict`, else returns false and changes nothing (the pre-populated mix).
   */
  connect(c: Container, strict: boolean): boolean {
    const pb = asObject(c.hostConfig.PortBindings) ?? {};
    const exposed = asObject(c.config.ExposedPorts) ?? {};
    const ports: PublishedPorts = {};
    const claimed: number[] = [];
    const publishAll = c.hostConfig.PublishAllPorts === true;
    const keys = new Set([...Object.keys(exposed), ...Object.keys(pb)]);
    for (const key of keys) {
      const bindings = Array.isArray(pb[key]) ? (pb[key] as Json[]) : publishAll ? [{ HostIp: '', HostPort: '' }] : [];
      if (!bindings.length) {
        ports[key] = null;
        continue;
      }
      const out: { HostIp: string; HostPort: string }[] = [];
      for (const b of bindings) {
        const bo = asObject(b) ?? {};
        const anyIp = !(typeof bo.HostIp === 'string' && bo.HostIp);
        const hostIp = anyIp ? '0.0.0.0' : String(bo.HostIp);
        const hp = typeof bo.HostPort === 'string' ? bo.HostPort : '';
        let port = Number.parseInt(hp, 10);
        if (!Number.isFinite(port) || port <= 0) {
          do port = this.nextHostPort = this.nextHostPort >= 60999 ? 32768 : this.nextHostPort + 1;
          while (this.usedHostPorts.has(port) || claimed.includes(port));
        } else if (this.usedHostPorts.has(port) || claimed.includes(port)) {
          if (!strict) return false;
          const ep = this.rng.hex(64);
          throw new ApiError(500, `driver failed programming external connectivity on endpoint ${c.name} (${ep}): Bind for ${hostIp}:${port} failed: port is already allocated`);
        }
        claimed.push(port);
        out.push({ HostIp: hostIp, HostPort: String(port) });
        // dockerd (docker-proxy) binds an unspecified host IP on IPv4 and IPv6 alike.
        if (anyIp) out.push({ HostIp: '::', HostPort: String(port) });
      }
      ports[key] = out;
    }
    for (const p of claimed) this.usedHostPorts.add(p);
    c.ports = ports;
    for (const ep of c.endpoints) {
      const net = this.lookup(ep.network);
      if (!net?.octet) continue;
      const n = this.allocIp(net);
      ep.ip = `172.${net.octet}.${n >> 8}.${n & 255}`;
      ep.mac = `02:42:ac:${net.octet.toString(16).padStart(2, '0')}:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
      ep.endpointId = this.rng.hex(64);
    }
    c.sandboxId = this.rng.hex(64);
    return true;
  }

  /** Gives back what connect took (the container stopped). */
  disconnect(c: Container): void {
    for (const ep of c.endpoints) {
      if (ep.ip) {
        const parts = ep.ip.split('.');
        this.lookup(ep.network)?.usedIps.delete(Number(parts[2]) * 256 + Number(parts[3]));
      }
      ep.ip = '';
      ep.mac = '';
      ep.endpointId = '';
    }
    for (const bindings of Object.values(c.ports ?? {})) {
      for (const b of bindings ?? []) this.usedHostPorts.delete(Number(b.HostPort));
    }
    c.ports = null;
    c.sandboxId = '';
  }

  /** GET /networks. */
  list(q: URLSearchParams): JsonObject[] {
    const f = parseFilters(q.get('filters'));
    checkFilterKeys(f, ['dangling', 'driver', 'id', 'label', 'name', 'scope', 'type']);
    return this.all
      .filter((n) => {
        if (f.get('name') && !f.get('name')?.some((x) => n.name.includes(x))) return false;
        if (f.get('id') && !f.get('id')?.some((x) => n.id.startsWith(x))) return false;
        if (f.get('driver') && !f.get('driver')?.includes(n.driver)) return false;
        if (f.get('scope') && !f.get('scope')?.includes(n.scope)) return false;
        if (f.get('type') && !f.get('type')?.includes(n.builtin ? 'builtin' : 'custom')) return false;
        return labelsMatch(n.labels, f.get('label') ?? []);
      })
      .map((n) => networkJson(n, [], false));
  }
}

function plainNetwork(id: string, name: string, driver: string, created: string): Network {
  return { id, name, driver, scope: 'local', created, subnet: '', gateway: '', builtin: true, options: {}, octet: 0, labels: {}, internal: false, attachable: false, usedIps: new Set(), nextIp: 2 };
}

function userNetwork(id: string, name: string, driver: string, created: string, octet: number): Network {
  return {
    id,
    name,
    driver,
    scope: 'local',
    created,
    subnet: `172.${octet}.0.0/16`,
    gateway: `172.${octet}.0.1`,
    options: {},
    builtin: false,
    octet,
    labels: {},
    internal: false,
    attachable: false,
    usedIps: new Set(),
    nextIp: 2,
  };
}

/** A network as inspect and the list show it; the inspect names its connected containers. */
export function networkJson(n: Network, containers: Iterable<Container>, withContainers: boolean): JsonObject {
  const connected: JsonObject = {};
  if (withContainers) {
    for (const c of containers) {
      const ep = c.endpoints.find((x) => x.network === n.name);
      if (!ep?.endpointId) continue;
      connected[c.id] = { Name: c.name, EndpointID: ep.endpointId, MacAddress: ep.mac, IPv4Address: ep.ip ? `${ep.ip}/16` : '', IPv6Address: '' };
    }
  }
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: n.scope,
    Driver: n.driver,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: n.subnet ? [{ Subnet: n.subnet, Gateway: n.gateway }] : [] },
    Internal: n.internal,
    Attachable: n.attachable,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: connected,
    Options: n.options,
    Labels: n.labels,
  };
}
