import { Flags } from '@oclif/core';
import { BaseCommand } from '../lib/cli/base';
import { discoveryArg, discoveryFlags, DISCOVERY_HELP, parseDiscoveryOpts, resolveDiscoveryUrl } from '../lib/cli/flags';
import { abortOnSignals } from '../lib/cli/signals';

export default class Manage extends BaseCommand {
  static override summary = 'Run a manager: one Docker API endpoint for all the engines in discovery.';
  static override description = `Watches the discovery backend, connects to every Docker engine it lists, and serves the Docker Remote API on -H: lists and info are aggregated across engines, container creates are scheduled (--strategy, --filter), other calls go to the engine owning the object. Point any docker client at it: docker -H tcp://<manager> info.

Cluster options (--cluster-opt key=value):
  swarm.overcommit=0.05   fraction of CPUs and memory added to each engine's capacity (> -1)
  swarm.createretry=0     extra attempts when a create fails (>= 0)
  swarm.spread.running-only=false   spread counts only running containers, not stopped ones
  swarm.pull-on-create=false        a create pulls a missing image on the engine (v1), whatever the client's pull policy
  swarm.drain.state-file=<path>     persist node drains (swarm node drain|activate) across restarts

${DISCOVERY_HELP}`;
  static override hiddenAliases = ['m'];
  static override examples = [
    '<%= config.bin %> manage -H tcp://0.0.0.0:3375 nodes://10.0.0.11:2375,10.0.0.12:2375',
    '<%= config.bin %> manage -H :3375 --strategy binpack --engine-refresh-min-interval 10s file:///etc/swarm/cluster',
  ];
  static override args = { discovery: discoveryArg };
  static override flags = {
    host: Flags.string({
      char: 'H',
      summary: 'Listen address, tcp://host:port or unix:///path (repeatable; default tcp://127.0.0.1:2375, env SWARM_HOST).',
      multiple: true,
      multipleNonGreedy: true,
    }),
    strategy: Flags.string({ summary: 'Placement strategy: spread, binpack or random.', default: 'spread' }),
    filter: Flags.string({
      char: 'f',
      summary: 'Filter to enable (repeatable, replaces the default list): health, port, containerslots, dependency, affinity, constraint, whitelist.',
      multiple: true,
      multipleNonGreedy: true,
    }),
    heartbeat: Flags.string({ summary: 'Discovery poll period (Go duration, at least 1s).', default: '60s' }),
    'engine-refresh-min-interval': Flags.string({ summary: 'Minimum delay between engine refreshes.', default: '30s' }),
    'engine-refresh-max-interval': Flags.string({ summary: 'Maximum delay between engine refreshes.', default: '60s' }),
    'engine-failure-retry': Flags.integer({ summary: 'Connection failures before an engine is flagged Unhealthy.', default: 3 }),
    'engine-refresh-retry': Flags.integer({ summary: 'Deprecated: use --engine-failure-retry.', default: 3, hidden: true }),
    'cluster-driver': Flags.string({ char: 'c', summary: 'Cluster driver (only "swarm").', default: 'swarm' }),
    'cluster-opt': Flags.string({ summary: 'Cluster option key=value (repeatable), see below.', multiple: true, multipleNonGreedy: true }),
    advertise: Flags.string({ aliases: ['addr'], summary: 'Address of this manager (host:port), for --replication.', env: 'SWARM_ADVERTISE' }),
    replication: Flags.boolean({ summary: 'Enable manager replication: leader election through the etcd/consul/zk discovery; replicas pass requests to the primary (needs --advertise).' }),
    'replication-ttl': Flags.string({ summary: 'Leader lock TTL for --replication: how fast a replica takes over from a dead primary.', default: '20s' }),
    tls: Flags.boolean({ summary: 'Serve TLS with --tlscert/--tlskey and use TLS to the engines (implied by --tlsverify).' }),
    tlsverify: Flags.boolean({ summary: 'TLS, and verify clients and engines against --tlscacert (mutual TLS).' }),
    tlscacert: Flags.string({ summary: 'CA certificate that signed the clients\' and engines\' certificates (with --tlsverify).' }),
    tlscert: Flags.string({ summary: 'Certificate of this manager, served to clients and presented to the engines.' }),
    tlskey: Flags.string({ summary: 'Private key of --tlscert.' }),
    'api-enable-cors': Flags.boolean({ aliases: ['cors'], summary: 'Add CORS headers and answer OPTIONS (for browser clients).' }),
    'api-max-body': Flags.string({ summary: 'Largest JSON request body (create, exec, network/volume create...); 413 beyond. Uploads (load, import, build, cp) stream and have no limit.', default: '16m' }),
    'api-max-json-depth': Flags.integer({ summary: 'Deepest nesting of arrays/objects in a JSON request body; 400 beyond.', default: 100 }),
    'api-body-timeout': Flags.string({ summary: 'A request body that sends nothing for this long is given up (408).', default: '30s' }),
    'api-max-connections': Flags.integer({ summary: 'Open client connections in all; new ones beyond are closed.', default: 4096 }),
    'api-max-connections-per-client': Flags.integer({ summary: 'Open connections one client address may hold; new ones beyond are closed.', default: 512 }),
    'events-history': Flags.integer({ summary: 'Events kept for docker events --since/--until (every engine\'s and the manager\'s own, from the manager\'s start); 0 keeps none.', default: 10000 }),
    'events-max-age': Flags.string({ summary: 'Events older than this are dropped from that history (Go duration).', default: '1h' }),
    'metrics-addr': Flags.string({ summary: 'Serve the Prometheus /metrics on this host:port (same TLS as -H) instead of on the -H listeners.' }),
    'refresh-on-node-filter': Flags.boolean({ summary: 'docker ps with a node filter first re-reads that engine\'s containers.' }),
    'container-name-refresh-filter': Flags.string({ summary: 'docker ps with this exact name filter first re-reads every engine\'s containers.', default: '' }),
    ...discoveryFlags,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Manage);
    const { planManage } = await import('../lib/manager/plan');
    const envHosts = process.env.SWARM_HOST ? process.env.SWARM_HOST.split(',').filter(Boolean) : [];
    const plan = planManage({
      discoveryUrl: resolveDiscoveryUrl(args.discovery, 'manage a cluster', 'manage'),
      hosts: flags.host?.length ? flags.host : envHosts,
      strategy: flags.strategy,
      filters: flags.filter,
      heartbeat: flags.heartbeat,
      refreshMin: flags['engine-refresh-min-interval'],
      refreshMax: flags['engine-refresh-max-interval'],
      failureRetry: flags['engine-failure-retry'],
      refreshRetry: flags['engine-refresh-retry'],
      clusterDriver: flags['cluster-driver'],
      clusterOpts: flags['cluster-opt'] ?? [],
      discoveryOpts: parseDiscoveryOpts(flags['discovery-opt']),
      tokenServiceUrl: flags['discovery-url'],
      advertise: flags.advertise,
      replication: flags.replication,
      replicationTtl: flags['replication-ttl'],
      tls: flags.tls,
      tlsverify: flags.tlsverify,
      tlscacert: flags.tlscacert,
      tlscert: flags.tlscert,
      tlskey: flags.tlskey,
      cors: flags['api-enable-cors'],
      refreshOnNodeFilter: flags['refresh-on-node-filter'],
      containerNameRefreshFilter: flags['container-name-refresh-filter'],
      experimental: flags.experimental,
      apiMaxBody: flags['api-max-body'],
      apiMaxJsonDepth: flags['api-max-json-depth'],
      apiBodyTimeout: flags['api-body-timeout'],
      apiMaxConnections: flags['api-max-connections'],
      apiMaxConnectionsPerClient: flags['api-max-connections-per-client'],
      eventsHistory: flags['events-history'],
      eventsMaxAge: flags['events-max-age'],
      metricsAddr: flags['metrics-addr'],
    });
    const { runManage } = await import('../lib/manager/run');
    await runManage(plan, abortOnSignals());
  }
}
