/**
 * A container's changes of state, as dockerd makes them and with its events and errors: start,
 * the simulated process ending (die), stop, kill, restart, pause, unpause, rename, remove, prune.
 */
import { ApiError } from '../../src/lib/errors';
import { labelsMatch, parseFilters } from '../../src/lib/api/respond';
import { checkContainerName, nameConflict } from './create';
import { checkFilterKeys } from './filters';
import type { JsonObject } from './json';
import { isRunning, type Container, type Waiter } from './model';
import { exitPlan, FATAL_SIGNALS, parseSignal } from './process';
import type { EngineState } from './state';
import { frame } from './http';

/** Returns false when already running (304). */
export function start(s: EngineState, c: Container): boolean {
  if (c.status === 'paused') throw new ApiError(409, 'cannot start a paused container, try unpause instead');
  if (c.status === 'running' || c.status === 'restarting') return false;
  if (c.status === 'removing' || c.status === 'dead') throw new ApiError(409, `container is marked for removal and cannot be started`);
  if (!s.lookupNetwork(c.network)) throw new ApiError(404, `network ${c.network} not found`);
  s.networks.connect(c, true);
  c.status = 'running';
  c.pid = 1000 + s.rng.int(60000);
  c.startedMs = Date.now();
  c.finishedMs = 0;
  c.exitCode = 0;
  s.changed();
  s.networkEvent(c, 'connect');
  s.containerEvent(c, 'start');
  scheduleAutoExit(s, c);
  return true;
}

/** What the process prints goes to its log and to every attached client. */
function print(s: EngineState, c: Container, text: string): void {
  c.logs.push(text);
  if (c.logs.length > 100) c.logs.shift();
  for (const a of s.attachers.get(c.id) ?? []) if (a.stdout) a.socket.write(frame(1, text, a.tty));
}

function scheduleAutoExit(s: EngineState, c: Container): void {
  if (!s.cfg.autoExit) return;
  const plan = exitPlan([c.path, ...c.args], c.config.OpenStdin === true || c.config.Tty === true);
  if (!plan) return;
  if (plan.output !== undefined) print(s, c, plan.output);
  const t = setTimeout(() => {
    c.exitTimer = undefined;
    if (c.status === 'running' && s.containers.get(c.id) === c) die(s, c, plan.code);
  }, plan.afterMs + 5);
  t.unref?.();
  c.exitTimer = t;
}

/** The process ended: its network let go, attached clients and waiters told, AutoRemove applied. */
function die(s: EngineState, c: Container, exitCode: number): void {
  if (c.exitTimer) clearTimeout(c.exitTimer);
  c.exitTimer = undefined;
  c.status = 'exited';
  c.exitCode = exitCode;
  c.pid = 0;
  c.finishedMs = Date.now();
  s.networks.disconnect(c);
  s.changed();
  const attached = s.attachers.get(c.id);
  if (attached) {
    s.attachers.delete(c.id);
    for (const a of attached) a.socket.end();
  }
  s.containerEvent(c, 'die', { exitCode: String(exitCode) });
  s.networkEvent(c, 'disconnect');
  const keep: Waiter[] = [];
  for (const w of c.waiters) {
    if (w.condition === 'removed') keep.push(w);
    else w.done(exitCode);
  }
  c.waiters = keep;
  if (c.hostConfig.AutoRemove === true) remove(s, c, false, true);
}

/** Returns false if not running (304). */
export function stop(s: EngineState, c: Container, signal: string | null): boolean {
  if (!isRunning(c)) return false;
  const stopSig = signal || (typeof c.config.StopSignal === 'string' ? c.config.StopSignal : 'SIGTERM');
  const num = parseSignal(stopSig) ?? 15;
  s.containerEvent(c, 'kill', { signal: String(num) });
  // Apps that declare a stop signal shut down cleanly; the rest die of the signal.
  die(s, c, typeof c.config.StopSignal === 'string' && !signal ? 0 : 128 + num);
  s.containerEvent(c, 'stop');
  return true;
}

export function kill(s: EngineState, c: Container, signal: string | null): void {
  const num = parseSignal(signal || 'KILL');
  if (num === undefined) throw new ApiError(400, `Invalid signal: ${signal ?? ''}`);
  if (!isRunning(c)) throw new ApiError(409, `Cannot kill container: ${c.id.slice(0, 12)}: Container ${c.id} is not running`);
  s.containerEvent(c, 'kill', { signal: String(num) });
  if (FATAL_SIGNALS.has(num) || c.status === 'paused') die(s, c, 128 + num);
}

export function restart(s: EngineState, c: Container): void {
  if (c.status === 'running' || c.status === 'paused') stop(s, c, null);
  start(s, c);
  c.restartCount = 0;
  s.containerEvent(c, 'restart');
}

export function pause(s: EngineState, c: Container): void {
  if (c.status === 'paused') throw new ApiError(409, `Container ${c.id} is already paused`);
  if (c.status !== 'running') throw new ApiError(409, `Container ${c.id} is not running`);
  c.status = 'paused';
  s.changed();
  s.containerEvent(c, 'pause');
}

export function unpause(s: EngineState, c: Container): void {
  if (c.status !== 'paused') throw new ApiError(409, `Container ${c.id} is not paused`);
  c.status = 'running';
  s.changed();
  s.containerEvent(c, 'unpause');
}

export function rename(s: EngineState, c: Container, name: string | null): void {
  const plain = checkContainerName(name);
  if (plain === c.name) throw new ApiError(400, 'Renaming a container with the same name as its current name');
  const taken = s.byName.get(plain);
  if (taken) throw nameConflict(plain, taken);
  const old = c.name;
  s.byName.delete(old);
  c.name = plain;
  s.byName.set(plain, c);
  s.changed();
  s.containerEvent(c, 'rename', { oldName: `/${old}` });
}

export function remove(s: EngineState, c: Container, force: boolean, removeVolumes: boolean): void {
  if (c.status === 'paused' && !force) {
    throw new ApiError(409, `You cannot remove a paused container ${c.id}. Unpause and then stop the container before attempting removal or force remove`);
  }
  if ((c.status === 'running' || c.status === 'restarting') && !force) {
    throw new ApiError(409, `You cannot remove a running container ${c.id}. Stop the container before attempting removal or force remove`);
  }
  if (isRunning(c)) {
    s.containerEvent(c, 'kill', { signal: '9' });
    die(s, c, 137);
    if (!s.containers.has(c.id)) return; // AutoRemove already took it
  }
  s.containers.delete(c.id);
  s.byName.delete(c.name);
  for (const m of c.mounts) {
    if (m.Type !== 'volume' || !m.Name) continue;
    const v = s.volumes.get(m.Name);
    if (v?.anonymous && removeVolumes) {
      s.volumes.delete(m.Name);
      s.events.emit('volume', 'destroy', m.Name, { driver: 'local' });
    }
  }
  s.changed();
  s.containerEvent(c, 'destroy');
  for (const w of c.waiters) w.done(c.exitCode);
  c.waiters = [];
}

/** POST /containers/prune: every stopped container (matching the label filters). */
export function prune(s: EngineState, q: URLSearchParams): JsonObject {
  const f = parseFilters(q.get('filters'));
  checkFilterKeys(f, ['label', 'label!', 'until']);
  const deleted: string[] = [];
  let space = 0;
  for (const c of [...s.containers.values()]) {
    if (isRunning(c)) continue;
    if (!labelsMatch(c.labels, f.get('label') ?? [])) continue;
    remove(s, c, false, false);
    deleted.push(c.id);
    space += c.sizeRw;
  }
  s.events.emit('container', 'prune', '', { reclaimed: String(space) });
  return { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: space };
}

/** Stops every pending exit (the simulator closes). */
export function clearTimers(s: EngineState): void {
  for (const c of s.containers.values()) {
    if (c.exitTimer) clearTimeout(c.exitTimer);
    c.exitTimer = undefined;
  }
}
