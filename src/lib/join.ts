/** `swarm join`: keep one engine registered in discovery, every heartbeat, until stopped. */
import { isHostPortError, parseHostPort } from './address';
import { createDiscovery } from './discovery/registry';
import { sleep } from './discovery/poll';
import { parseDuration, formatDuration } from './duration';
import { errorMessage, UserError } from './errors';
import { log } from './log';

export interface JoinInput {
  discoveryUrl: string;
  advertise?: string;
  heartbeat: string;
  ttl: string;
  delay: string;
  options: Record<string, string>;
  tokenServiceUrl?: string;
}

export interface JoinPlan {
  discoveryUrl: string;
  advertise: string;
  heartbeatMs: number;
  ttlMs: number;
  delayMs: number;
  options: Record<string, string>;
  tokenServiceUrl?: string;
}

/** Checks flags with Swarm v1's rules and messages. */
export function planJoin(input: JoinInput): JoinPlan {
  if (!input.advertise) throw new UserError('missing mandatory --advertise flag', 2);
  if (isHostPortError(parseHostPort(input.advertise))) {
    throw new UserError('--advertise should be of the form ip:port or hostname:port', 2);
  }
  const heartbeatMs = parseDuration(input.heartbeat, '--heartbeat');
  if (heartbeatMs < 1000) throw new UserError('--heartbeat should be at least one second', 2);
  const ttlMs = parseDuration(input.ttl, '--ttl');
  if (ttlMs <= heartbeatMs) throw new UserError('--ttl must be strictly superior to the heartbeat value', 2);
  const delayMs = parseDuration(input.delay, '--delay');
  if (delayMs < 0) throw new UserError('--delay should not be a negative number', 2);
  return { ...input, advertise: input.advertise, heartbeatMs, ttlMs, delayMs };
}

/** Registers `plan.advertise` every heartbeat until `signal` aborts; registration errors are logged, not fatal. */
export async function runJoin(plan: JoinPlan, signal: AbortSignal): Promise<void> {
  const discovery = await createDiscovery(plan.discoveryUrl, {
    heartbeatMs: plan.heartbeatMs,
    ttlMs: plan.ttlMs,
    options: plan.options,
    tokenServiceUrl: plan.tokenServiceUrl,
  });
  if (!discovery.canRegister) await discovery.register(plan.advertise); // throws the backend's explanation
  if (plan.delayMs > 0) {
    const wait = Math.floor(Math.random() * plan.delayMs);
    log.info(`Waiting ${formatDuration(wait)} before the first registration`, { delay: formatDuration(plan.delayMs) });
    await sleep(wait, signal);
  }
  log.info('Registering on the discovery service', {
    addr: plan.advertise,
    discovery: discovery.description,
    heartbeat: formatDuration(plan.heartbeatMs),
    ttl: formatDuration(plan.ttlMs),
  });
  let failing = false;
  while (!signal.aborted) {
    try {
      await discovery.register(plan.advertise);
      if (failing) log.info('Registration works again', { addr: plan.advertise });
      else log.debug('Registered', { addr: plan.advertise });
      failing = false;
    } catch (err) {
      failing = true;
      log.error('Registration failed, retrying at the next heartbeat', { addr: plan.advertise, error: errorMessage(err) });
    }
    await sleep(plan.heartbeatMs, signal);
  }
  log.info('Stopped registering', { addr: plan.advertise });
}
