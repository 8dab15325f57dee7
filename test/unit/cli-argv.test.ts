/** v1 command lines (urfave/cli, Go's flag package) rewritten for oclif, with the real command definitions. */
import { describe, expect, test } from 'bun:test';
import { COMMANDS } from '../../src/commands';
import { ArgvError, normalizeArgv } from '../../src/lib/cli/argv';
import { BaseCommand } from '../../src/lib/cli/base';

const norm = (line: string) => normalizeArgv(line.split(' ').filter(Boolean), COMMANDS, BaseCommand.baseFlags).argv.join(' ');
const refused = (line: string): ArgvError => {
  try {
    normalizeArgv(line.split(' '), COMMANDS, BaseCommand.baseFlags);
  } catch (err) {
    if (err instanceof ArgvError) return err;
    throw err;
  }
  throw new Error(`accepted: ${line}`);
};

describe('global flags before the command', () => {
  test('are moved after the command name', () => {
    expect(norm('--debug manage -H 127.0.0.1:4000 nodes://a:1')).toBe('manage --debug -H 127.0.0.1:4000 nodes://a:1');
    expect(norm('-l debug join --advertise=10.0.0.1:2375 token://x')).toBe('join -l debug --advertise=10.0.0.1:2375 token://x');
    expect(norm('--log-level=info list file:///tmp/c')).toBe('list --log-level=info file:///tmp/c');
    expect(norm('--log-level info list')).toBe('list --log-level info');
    expect(norm('-l=warn list')).toBe('list -l=warn');
    expect(norm('--experimental manage nodes://a:1')).toBe('manage --experimental nodes://a:1');
    expect(norm('-debug -log-level error -experimental list x')).toBe('list --debug --log-level error --experimental x');
  });
  test('work with command aliases and topics', () => {
    expect(norm('--debug m nodes://a:1')).toBe('m --debug nodes://a:1');
    expect(norm('-l debug node ls -H 127.0.0.1:1')).toBe('node ls -l debug -H 127.0.0.1:1');
    expect(norm('-l debug node:drain n1')).toBe('node:drain -l debug n1');
    expect(norm('--debug help manage')).toBe('help --debug manage');
  });
  test('help, version and no command', () => {
    expect(norm('--debug --help')).toBe('--help');
    expect(norm('-h manage')).toBe('--help');
    expect(norm('-help')).toBe('--help');
    expect(norm('-l debug')).toBe('--help');
    expect(norm('')).toBe('--help');
    expect(norm('--debug --version')).toBe('--version');
    expect(norm('-version')).toBe('--version');
    expect(norm('manage -help')).toBe('manage --help');
  });
  test('an unknown command is left for oclif to report', () => {
    expect(norm('--debug nosuchcommand -x')).toBe('nosuchcommand -x');
  });
  test('unknown global flags are refused as Go words it', () => {
    expect(refused('--bogus manage').message).toBe('flag provided but not defined: -bogus');
    expect(refused('-x list').message).toBe('flag provided but not defined: -x');
    expect(refused('-ldebug list').message).toBe('flag provided but not defined: -ldebug');
    const err = refused('--debug=maybe manage');
    expect(err.message).toBe('invalid boolean value "maybe" for -debug: parse error');
    expect(err.exitCode).toBe(2);
    expect(err.command).toBeUndefined();
  });
});

describe('long flags with one dash', () => {
  test('are read as the long flag', () => {
    expect(norm('manage -strategy binpack nodes://a:1')).toBe('manage --strategy binpack nodes://a:1');
    expect(norm('manage -cluster-opt swarm.createretry=1 nodes://a:1')).toBe('manage --cluster-opt swarm.createretry=1 nodes://a:1');
    expect(norm('join -advertise=1.2.3.4:2375 -heartbeat 5s -ttl 15s token://x')).toBe('join --advertise=1.2.3.4:2375 --heartbeat 5s --ttl 15s token://x');
    expect(norm('join -addr 1.2.3.4:2375 -delay 1s -discovery-opt kv.path=x token://x')).toBe('join --addr 1.2.3.4:2375 --delay 1s --discovery-opt kv.path=x token://x');
    expect(norm('manage -cors -replication -replication-ttl 5s -engine-refresh-min-interval 1s x')).toBe(
      'manage --cors --replication --replication-ttl 5s --engine-refresh-min-interval 1s x',
    );
    expect(norm('list -timeout 1s x')).toBe('list --timeout 1s x');
    expect(norm('manage -debug -l debug x')).toBe('manage --debug -l debug x');
  });
  test('also after the positional argument, as oclif reads flags', () => {
    expect(norm('manage nodes://a:1 -strategy binpack')).toBe('manage nodes://a:1 --strategy binpack');
  });
  test('single-letter flags stay short; --H is -H as in Go', () => {
    expect(norm('manage -H :4000 -f health -c swarm -l debug x')).toBe('manage -H :4000 -f health -c swarm -l debug x');
    expect(norm('manage --H :4000 -f=port x')).toBe('manage -H :4000 -f=port x');
    expect(norm('node ls -q')).toBe('node ls -q');
    expect(norm('manage -H127.0.0.1:4000 x')).toBe('manage -H127.0.0.1:4000 x');
  });
  test('the value of a flag is never rewritten', () => {
    expect(norm('manage --engine-failure-retry -1 x')).toBe('manage --engine-failure-retry -1 x');
    expect(norm('manage -container-name-refresh-filter -strategy x')).toBe('manage --container-name-refresh-filter -strategy x');
    expect(norm('manage -- -strategy')).toBe('manage -- -strategy');
  });
  test('unknown ones are refused, never read as a short flag plus a value', () => {
    const err = refused('manage -heartbeatx 5s x');
    expect(err.message).toBe('flag provided but not defined: -heartbeatx');
    expect(err.command).toBe('manage');
    expect(refused('list -strategy binpack x').message).toBe('flag provided but not defined: -strategy');
    expect(refused('manage -fhealth x').message).toBe('flag provided but not defined: -fhealth');
    expect(refused('node ls -bogus').command).toBe('node ls');
    // Two dashes: oclif's "Nonexistent flag" message.
    expect(norm('manage --bogus x')).toBe('manage --bogus x');
  });
});

describe('Go flag semantics oclif lacks', () => {
  test('--flag=true|false on a boolean', () => {
    expect(norm('manage --tls=true x')).toBe('manage --tls x');
    expect(norm('manage -tlsverify=1 --tls=false x')).toBe('manage --tlsverify x');
    const off = normalizeArgv(['--debug=false', 'list', 'x'], COMMANDS, BaseCommand.baseFlags);
    expect(off).toEqual({ argv: ['list', 'x'], clearEnv: ['DEBUG'] });
    expect(refused('manage --tls=yes x').message).toBe('invalid boolean value "yes" for -tls: parse error');
  });
  test('the last of a repeated single-valued flag wins; repeatable ones add up', () => {
    expect(norm('-l info manage -strategy spread --strategy binpack -l debug x')).toBe('manage --strategy binpack -l debug x');
    expect(norm('manage --tls --tls=false x')).toBe('manage x');
    expect(norm('manage -f health -filter port -H :1 --host :2 x')).toBe('manage -f health --filter port -H :1 --host :2 x');
  });
});
