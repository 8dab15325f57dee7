/** `swarm manage`: watch discovery, keep the engines, serve the Docker API until stopped. */
import type http from 'node:http';
import { createDiscovery } from '../discovery/registry';
import { createApiServer } from '../api/server';
import { errorMessage } from '../errors';
import { formatListenAddress, listenOn } from '../listen';
import { log } from '../log';
import { Cluster } from './cluster';
import type { ManagePlan } from './plan';
import { Placer } from './scheduling';
import { engineTls, serverTlsOptions } from '../tls';
import { ReplicaGate } from '../api/replica';
import { discoveryScheme, LEADER_ELECTION_BACKENDS, setupReplication } from './replication';
import { Rescheduler } from './reschedule';
import { GlobalContainers } from './global';
import { DrainState } from './drain';
import { PublishProxy } from './publish-proxy';
import { publishAddress, sessionAffinityOn } from './publish-options';
import { SessionAffinity } from './session-affinity';
import { createMetricsServer } from '../metrics/http';
import { setKvDiscovery } from '../metrics/metrics';

const SERVER_VERSION = 'swarm/1.2.9';

export async function runManage(plan: ManagePlan, signal: AbortSignal, version = SERVER_VERSION): Promise<void> {
  for (const w of plan.warnings) log.warn(w);
  // Node drains set at run time; read back from --cluster-opt swarm.drain.state-file (a corrupt file stops the start).
  const drain = new DrainState(plan.drainStateFile);
  drain.load();
  // One bad request or engine must not take the whole cluster endpoint down: log and keep serving.
  process.on('unhandledRejection', (err) => log.error('Unexpected error, still serving', { error: errorMessage(err) }));
  process.on('uncaughtException', (err) => log.error('Unexpected exception, still serving', { error: errorMessage(err) }));
  const discovery = await createDiscovery(plan.discoveryUrl, {
    heartbeatMs: plan.heartbeatMs,
    ttlMs: plan.heartbeatMs * 3,
    options: plan.discoveryOpts,
    tokenServiceUrl: plan.tokenServiceUrl,
  });
  await discovery.preflight?.();
  const cluster = new Cluster({
    engine: {
      refreshMinMs: plan.refreshMinMs,
      refreshMaxMs: plan.refreshMaxMs,
      failureRetry: plan.failureRetry,
      overcommit: plan.overcommit,
      tls: plan.tls ? engineTls(plan.tls) : undefined,
    },
    strategy: plan.strategy,
    filters: plan.filters,
    overcommit: plan.overcommit,
    createRetry: plan.createRetry,
    pullOnCreate: plan.pullOnCreate,
    drain,
    events: plan.events,
  });
  setKvDiscovery(LEADER_ELECTION_BACKENDS.includes(discoveryScheme(plan.discoveryUrl)));
  const placer = new Placer(cluster, { strategy: plan.strategy, filters: plan.filters, overcommit: plan.overcommit, spreadRunningOnly: plan.spreadRunningOnly });
  // Rescheduling on node failure: by the primary only (--replication), else always.
  const rescheduler = new Rescheduler(placer);
  // Global containers get their copy on nodes that join or come back: also by the primary only.
  const globals = new GlobalContainers(placer);
  const election = plan.replication ? await setupReplication(plan.discoveryUrl, plan.discoveryOpts, plan.replication.advertise, plan.replication.ttlMs) : undefined;
  const replica = election ? new ReplicaGate(election.replication, plan.tls ? engineTls(plan.tls) : undefined) : undefined;
  if (election) election.replication.onRoleChange((primary) => rescheduler.setActive(primary));
  else rescheduler.setActive(true);
  if (election) election.replication.onRoleChange((primary) => globals.setActive(primary));
  else globals.setActive(true);
  // Beyond v1: published ports reachable at the manager's address; a client session's objects on one node.
  const publish = plan.publish?.proxy
    ? new PublishProxy(cluster, { addr: publishAddress(plan.publish, plan.listen), maxConnections: plan.publish.maxConnections, idleTimeoutMs: plan.publish.idleTimeoutMs })
    : undefined;
  publish?.start();
  const sessions = plan.publish && sessionAffinityOn(plan.publish) ? new SessionAffinity(cluster) : undefined;
  const servers: http.Server[] = [];
  for (const addr of plan.listen) {
    const server = createApiServer({
      cluster,
      placer,
      serverVersion: version,
      strategy: plan.strategy,
      filters: plan.filters,
      cors: plan.cors,
      refreshOnNodeFilter: plan.refreshOnNodeFilter,
      containerNameRefreshFilter: plan.containerNameRefreshFilter,
      replica,
      experimental: plan.experimental,
      bodyLimits: plan.bodyLimits,
      connectionLimits: plan.connectionLimits,
      publish,
      sessions,
      globals,
    }, plan.tls ? serverTlsOptions(plan.tls) : undefined, { metrics: !plan.metricsListen });
    const hint = addr.kind === 'tcp' && addr.port === 2375 ? ' (is Docker already running on this machine?)' : '';
    await listenOn(server, addr, hint);
    servers.push(server);
    log.info(plan.tls ? 'Listening for HTTPS' : 'Listening for HTTP', { addr: formatListenAddress(addr), ...(plan.tls ? { tlsverify: plan.tls.verify } : {}) });
  }
  if (plan.metricsListen) {
    const server = createMetricsServer({ placer, replica }, plan.tls ? serverTlsOptions(plan.tls) : undefined);
    await listenOn(server, plan.metricsListen);
    servers.push(server);
    log.info('Serving metrics', { addr: formatListenAddress(plan.metricsListen), path: '/metrics' });
  }
  log.info('Manager started', { discovery: discovery.description, strategy: plan.strategy, filters: plan.filters.join(',') });
  const electionDone = election?.run(signal).catch((err: unknown) => log.error('Leader Election stopped', { error: errorMessage(err) }));
  try {
    await cluster.watch(discovery, signal);
  } catch (err) {
    log.error('Discovery watch stopped', { error: errorMessage(err) });
  }
  if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  rescheduler.stop();
  globals.stop();
  await publish?.stop();
  await electionDone; // resigns leadership so a replica takes over at once
  cluster.stop();
  for (const s of servers) {
    s.closeAllConnections?.();
    s.close();
  }
  log.info('Manager stopped');
}
