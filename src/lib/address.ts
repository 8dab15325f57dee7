/** `host:port` addresses, as discovery entries and `--advertise` use them. */

export interface HostPort {
  host: string;
  port: number;
}

/**
 * Parses `host:port`, `[v6]:port`; returns an error text instead of throwing so callers can wrap it
 * in the message their context needs.
 */
export function parseHostPort(text: string): HostPort | { error: string } {
  const v6 = /^\[([0-9a-fA-F:.]+(%[A-Za-z0-9_.-]+)?)\]:(\d+)$/.exec(text);
  const m = v6 ? [text, v6[1], v6[3]] : /^([^:\s[\]]+):(\d+)$/.exec(text);
  if (!m) {
    if (!text.includes(':')) return { error: `address ${text}: missing port in address` };
    return { error: `address ${text}: expected host:port` };
  }
  const host = m[1]!;
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return { error: `address ${text}: port must be between 1 and 65535` };
  }
  if (!v6 && !/^[A-Za-z0-9._-]+$/.test(host)) return { error: `address ${text}: invalid host "${host}"` };
  return { host, port };
}

export function isHostPortError(v: HostPort | { error: string }): v is { error: string } {
  return 'error' in v;
}

