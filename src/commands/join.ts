import { Flags } from '@oclif/core';
import { BaseCommand } from '../lib/cli/base';
import { discoveryArg, discoveryFlags, DISCOVERY_HELP, parseDiscoveryOpts, resolveDiscoveryUrl } from '../lib/cli/flags';
import { abortOnSignals } from '../lib/cli/signals';
import { planJoin, runJoin } from '../lib/join';

export default class Join extends BaseCommand {
  static override summary = 'Keep a Docker engine registered in the cluster\'s discovery backend.';
  static override description = `Registers the engine address given by --advertise every --heartbeat, with a time-to-live of --ttl, until stopped (SIGINT/SIGTERM). When it stops, the entry expires after the TTL and managers drop the engine. Registration errors are logged and retried at the next heartbeat. nodes:// and file:// are static lists and need no join.

${DISCOVERY_HELP}`;
  static override hiddenAliases = ['j'];
  static override examples = [
    '<%= config.bin %> join --advertise 10.0.0.11:2375 token://$TOKEN',
    '<%= config.bin %> join --advertise 10.0.0.11:2375 --heartbeat 10s --ttl 30s token://10.0.0.5:8600/v1/$TOKEN',
  ];
  static override args = { discovery: discoveryArg };
  static override flags = {
    advertise: Flags.string({
      aliases: ['addr'],
      summary: 'Address of the Docker engine to register, ip:port or hostname:port (required).',
      env: 'SWARM_ADVERTISE',
    }),
    heartbeat: Flags.string({ summary: 'Period between registrations (Go duration, at least 1s).', default: '60s' }),
    ttl: Flags.string({ summary: 'Lifetime of a registration; must exceed --heartbeat.', default: '180s' }),
    delay: Flags.string({ summary: 'Wait a random time up to this before the first registration (spreads load).', default: '0s' }),
    ...discoveryFlags,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Join);
    const plan = planJoin({
      discoveryUrl: resolveDiscoveryUrl(args.discovery, 'join a cluster', 'join'),
      advertise: flags.advertise,
      heartbeat: flags.heartbeat,
      ttl: flags.ttl,
      delay: flags.delay,
      options: parseDiscoveryOpts(flags['discovery-opt']),
      tokenServiceUrl: flags['discovery-url'],
    });
    await runJoin(plan, abortOnSignals());
  }
}
