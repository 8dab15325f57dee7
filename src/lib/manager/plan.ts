/** `swarm manage` flags checked with Swarm v1's rules and messages (spec §1.4, §1.5). */
import { DEFAULT_FILTERS, FILTER_NOT_SUPPORTED, filterNames, STRATEGY_NOT_SUPPORTED, strategyNames } from '../scheduler/index';
import { parseListenAddress, type ListenAddress } from '../listen';
import { parseDuration } from '../duration';
import { DEFAULT_EVENT_LOG, type EventLogOptions } from './event-log';
import { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from '../api/guard';
import { DEFAULT_BODY_LIMITS, type BodyLimits } from '../api/respond';
import { parseByteSize } from '../size';
import { UserError } from '../errors';
import { isHostPortError, parseHostPort } from '../address';
import { leaderElectionError } from './replication';
import { checkTlsFlags, loadTlsMaterial, type TlsMaterial } from '../tls';
import { applyPublishOption, defaultPublishSettings, isPublishOption, PUBLISH_OPTION_NAMES, type PublishSettings } from './publish-options';

export interface ManageInput {
  discoveryUrl: string;
  hosts: string[];
  strategy: string;
  filters?: string[];
  heartbeat: string;
  refreshMin: string;
  refreshMax: string;
  failureRetry: number;
  refreshRetry: number;
  clusterDriver: string;
  clusterOpts: string[];
  discoveryOpts: Record<string, string>;
  tokenServiceUrl?: string;
  advertise?: string;
  replication: boolean;
  replicationTtl: string;
  tls: boolean;
  tlsverify: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
  cors: boolean;
  refreshOnNodeFilter: boolean;
  containerNameRefreshFilter: string;
  /** Global --experimental. */
  experimental?: boolean;
  /** --api-max-body, --api-max-json-depth, --api-body-timeout, --api-max-connections(-per-client). */
  apiMaxBody?: string;
  apiMaxJsonDepth?: number;
  apiBodyTimeout?: string;
  apiMaxConnections?: number;
  apiMaxConnectionsPerClient?: number;
  /** --events-history, --events-max-age, --metrics-addr. */
  eventsHistory?: number;
  eventsMaxAge?: string;
  metricsAddr?: string;
}

export interface ManagePlan {
  discoveryUrl: string;
  listen: ListenAddress[];
  strategy: string;
  filters: string[];
  heartbeatMs: number;
  refreshMinMs: number;
  refreshMaxMs: number;
  failureRetry: number;
  overcommit: number;
  createRetry: number;
  /** --cluster-opt swarm.spread.running-only=true: spread's tie-break counts only live containers. */
  spreadRunningOnly?: boolean;
  /** --cluster-opt swarm.pull-on-create=true: creates pull a missing image on the engine (v1). */
  pullOnCreate?: boolean;
  /** --cluster-opt swarm.drain.state-file=<path>: where node drains are persisted (src/lib/manager/drain.ts). */
  drainStateFile?: string;
  /** --cluster-opt swarm.publish-proxy*, swarm.session-affinity (src/lib/manager/publish-options.ts). */
  publish?: PublishSettings;
  discoveryOpts: Record<string, string>;
  tokenServiceUrl?: string;
  cors: boolean;
  refreshOnNodeFilter: boolean;
  containerNameRefreshFilter: string;
  /** --tls/--tlsverify: loaded cert material for the listeners and the engine connections. */
  tls?: TlsMaterial;
  /** --replication: leader election on the KV discovery (src/lib/manager/replication.ts). */
  replication?: { advertise: string; ttlMs: number };
  /** --experimental: only flips Experimental in /version and /info, as in v1. */
  experimental: boolean;
  bodyLimits: BodyLimits;
  connectionLimits: ConnectionLimits;
  /** The history `docker events --since` replays (src/lib/manager/event-log.ts). */
  events: EventLogOptions;
  /** --metrics-addr: /metrics on a listener of its own instead of the API's. */
  metricsListen?: ListenAddress;
  warnings: string[];
}

/** --events-history and --events-max-age (defaults when absent). */
function planEvents(input: ManageInput): EventLogOptions {
  const maxEvents = input.eventsHistory ?? DEFAULT_EVENT_LOG.maxEvents;
  if (!Number.isInteger(maxEvents) || maxEvents < 0) throw new UserError('--events-history should be a number of events, 0 or more', 2);
  const maxAgeMs = input.eventsMaxAge === undefined ? DEFAULT_EVENT_LOG.maxAgeMs : parseDuration(input.eventsMaxAge, '--events-max-age', Number.MAX_SAFE_INTEGER);
  if (maxAgeMs <= 0) throw new UserError('--events-max-age should be a positive duration', 2);
  return { maxEvents, maxAgeMs };
}

/** The API server's limits from their flags (defaults when a flag is absent). */
function planApiLimits(input: ManageInput): { bodyLimits: BodyLimits; connectionLimits: ConnectionLimits } {
  const maxBytes = input.apiMaxBody === undefined ? DEFAULT_BODY_LIMITS.maxBytes : parseByteSize(input.apiMaxBody, '--api-max-body');
  const maxDepth = input.apiMaxJsonDepth ?? DEFAULT_BODY_LIMITS.maxDepth;
  if (!Number.isInteger(maxDepth) || maxDepth < 1) throw new UserError('--api-max-json-depth should be a positive number', 2);
  const idleMs = input.apiBodyTimeout === undefined ? DEFAULT_BODY_LIMITS.idleMs : parseDuration(input.apiBodyTimeout, '--api-body-timeout');
  if (idleMs <= 0) throw new UserError('--api-body-timeout should be a positive number', 2);
  const total = input.apiMaxConnections ?? DEFAULT_CONNECTION_LIMITS.total;
  const perClient = input.apiMaxConnectionsPerClient ?? DEFAULT_CONNECTION_LIMITS.perClient;
  for (const [flag, v] of [['--api-max-connections', total], ['--api-max-connections-per-client', perClient]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new UserError(`${flag} should be a positive number`, 2);
  }
  return { bodyLimits: { maxBytes, maxDepth, idleMs }, connectionLimits: { total, perClient } };
}

export function parseClusterOpts(pairs: readonly string[]): {
  overcommit: number;
  createRetry: number;
  spreadRunningOnly: boolean;
  pullOnCreate: boolean;
  drainStateFile?: string;
  publish: PublishSettings;
  warnings: string[];
} {
  let overcommit = 0.05;
  let createRetry = 0;
  let spreadRunningOnly = false;
  let pullOnCreate = false;
  let drainStateFile: string | undefined;
  let publish = defaultPublishSettings();
  const warnings: string[] = [];
  for (const pair of pairs) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new UserError('--cluster-opt must contain key=value strings', 2);
    const key = pair.slice(0, i);
    const value = pair.slice(i + 1);
    if (key === 'swarm.overcommit') {
      const n = Number(value);
      if (!value || !Number.isFinite(n)) throw new UserError(`invalid value "${value}" for swarm.overcommit: expected a number`, 2);
      if (n <= -1) throw new UserError(`swarm.overcommit should be larger than -1, ${n.toFixed(6)} is invalid`, 2);
      if (n < 0) warnings.push('-1 < swarm.overcommit < 0 will make swarm take less resource than docker engine offers');
      overcommit = n;
    } else if (key === 'swarm.createretry') {
      const n = Number(value);
      if (!/^-?\d+$/.test(value)) throw new UserError(`invalid value "${value}" for swarm.createretry: expected an integer`, 2);
      if (n < 0) throw new UserError(`swarm.createretry can not be negative, ${n} is invalid`, 2);
      createRetry = n;
    } else if (key === 'swarm.spread.running-only') {
      if (!['true', 'false', '1', '0'].includes(value)) throw new UserError(`invalid value "${value}" for swarm.spread.running-only: expected true or false`, 2);
      spreadRunningOnly = value === 'true' || value === '1';
    } else if (key === 'swarm.pull-on-create') {
      if (!['true', 'false', '1', '0'].includes(value)) throw new UserError(`invalid value "${value}" for swarm.pull-on-create: expected true or false`, 2);
      pullOnCreate = value === 'true' || value === '1';
    } else if (key === 'swarm.drain.state-file') {
      if (!value) throw new UserError('swarm.drain.state-file needs a file path', 2);
      drainStateFile = value;
    } else if (isPublishOption(key)) {
      publish = applyPublishOption(publish, key, value);
    } else {
      throw new UserError(
        `unsupported cluster option ${key} (supported: swarm.overcommit, swarm.createretry, swarm.spread.running-only, swarm.pull-on-create, swarm.drain.state-file, ${PUBLISH_OPTION_NAMES.join(', ')})`,
        2,
      );
    }
  }
  return { overcommit, createRetry, spreadRunningOnly, pullOnCreate, drainStateFile, publish, warnings };
}

export function planManage(input: ManageInput): ManagePlan {
  const warnings: string[] = [];
  if (input.clusterDriver !== 'swarm') throw new UserError(`unsupported cluster "${input.clusterDriver}"`, 2);
  const strategy = input.strategy === 'binpacking' ? 'binpack' : input.strategy;
  if (!strategyNames().includes(strategy)) throw new UserError(`${STRATEGY_NOT_SUPPORTED}: ${input.strategy} (use ${['spread', 'binpack', 'random'].join(', ')})`, 2);
  const filters = input.filters?.length ? input.filters : [...DEFAULT_FILTERS];
  for (const f of filters) if (!filterNames().includes(f)) throw new UserError(`${FILTER_NOT_SUPPORTED}: ${f} (use ${filterNames().join(', ')})`, 2);
  if (input.refreshRetry !== 3) throw new UserError('--engine-refresh-retry is deprecated. Use --engine-failure-retry', 2);
  const refreshMinMs = parseDuration(input.refreshMin, '--engine-refresh-min-interval');
  if (refreshMinMs <= 0) throw new UserError('min refresh interval should be a positive number', 2);
  const refreshMaxMs = parseDuration(input.refreshMax, '--engine-refresh-max-interval');
  if (refreshMaxMs < refreshMinMs) throw new UserError('max refresh interval cannot be less than min refresh interval', 2);
  if (!Number.isInteger(input.failureRetry) || input.failureRetry <= 0) throw new UserError('invalid failure retry count', 2);
  const heartbeatMs = parseDuration(input.heartbeat, '--heartbeat');
  if (heartbeatMs < 1000) throw new UserError('--heartbeat should be at least one second', 2);
  const { overcommit, createRetry, spreadRunningOnly, pullOnCreate, drainStateFile, publish, warnings: optWarnings } = parseClusterOpts(input.clusterOpts);
  warnings.push(...optWarnings);
  if (input.advertise && isHostPortError(parseHostPort(input.advertise))) {
    throw new UserError('--advertise should be of the form ip:port or hostname:port', 2);
  }
  let replication: ManagePlan['replication'];
  // Checked with or without --replication: a bad value is a mistake either way.
  const ttl = parseDuration(input.replicationTtl, '--replication-ttl');
  if (ttl <= 0) throw new UserError('--replication-ttl should be a positive number', 2);
  if (input.replication) {
    if (!input.advertise) throw new UserError('--advertise address must be provided when using --leader-election', 2);
    const unsupported = leaderElectionError(input.discoveryUrl);
    if (unsupported) throw new UserError(unsupported, 2);
    replication = { advertise: input.advertise, ttlMs: ttl };
  }
  const tlsPaths = checkTlsFlags(input);
  const hosts = input.hosts.length ? input.hosts : ['tcp://127.0.0.1:2375'];
  const listen = hosts.map((h) => parseListenAddress(h));
  const tls = tlsPaths ? loadTlsMaterial(tlsPaths) : undefined;
  const apiLimits = planApiLimits(input);
  const events = planEvents(input);
  const metricsListen = input.metricsAddr ? parseListenAddress(input.metricsAddr) : undefined;
  return {
    ...apiLimits,
    discoveryUrl: input.discoveryUrl,
    listen,
    strategy,
    filters,
    heartbeatMs,
    refreshMinMs,
    refreshMaxMs,
    failureRetry: input.failureRetry,
    overcommit,
    createRetry,
    spreadRunningOnly,
    pullOnCreate,
    drainStateFile,
    publish,
    discoveryOpts: input.discoveryOpts,
    tokenServiceUrl: input.tokenServiceUrl,
    cors: input.cors,
    refreshOnNodeFilter: input.refreshOnNodeFilter,
    containerNameRefreshFilter: input.containerNameRefreshFilter,
    tls,
    replication,
    experimental: input.experimental ?? false,
    events,
    metricsListen,
    warnings,
  };
}
