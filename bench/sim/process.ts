/** The simulated process of a container: which signals kill it, and which commands end on their own. */

const SIGNALS: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, IOT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12,
  PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23,
  XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, POLL: 29, PWR: 30, SYS: 31,
};

/** Signals the simulated processes die of; anything else is delivered and ignored. */
export const FATAL_SIGNALS = new Set([1, 2, 3, 6, 9, 15]);

/** `9`, `KILL` or `SIGKILL` → 9; undefined for anything else. */
export function parseSignal(s: string): number | undefined {
  const t = s.trim().toUpperCase();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    return n >= 1 && n <= 64 ? n : undefined;
  }
  return SIGNALS[t.startsWith('SIG') ? t.slice(3) : t];
}

/** How a started command ends on its own: after `afterMs`, with `code`, having printed `output`. */
export interface ExitPlan {
  afterMs: number;
  code: number;
  output?: string;
}

// coreutils' sleep syntax (N, Ns, Nm, Nh, Nd), not Go's durations.
const SLEEP_UNITS: Record<string, number> = { '': 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * `sleep N`, `echo ...`, `true`, `false`, `sh -c "exit N"` and a bare non-interactive shell end on
 * their own; anything else runs until stopped (undefined).
 */
export function exitPlan(argv: readonly string[], interactive: boolean): ExitPlan | undefined {
  const base = (argv[0] ?? '').split('/').pop() ?? '';
  if (base === 'sleep' && argv.length === 2) {
    const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(argv[1] ?? '');
    if (!m) return undefined;
    const afterMs = Number(m[1]) * (SLEEP_UNITS[m[2] ?? ''] ?? 1000);
    return afterMs > 2_147_483_000 ? undefined : { afterMs, code: 0 };
  }
  if (base === 'echo') return { afterMs: 0, code: 0, output: `${argv.slice(1).join(' ')}\n` };
  if (base === 'true' && argv.length === 1) return { afterMs: 0, code: 0 };
  if (base === 'false' && argv.length === 1) return { afterMs: 0, code: 1 };
  if ((base === 'sh' || base === 'bash' || base === 'ash') && argv.length === 1 && !interactive) return { afterMs: 0, code: 0 };
  if ((base === 'sh' || base === 'bash') && argv[1] === '-c' && argv.length === 3) {
    const m = /^\s*exit\s+(\d+)\s*$/.exec(argv[2] ?? '');
    if (m) return { afterMs: 0, code: Number(m[1]) & 255 };
    if (/^\s*(true|:)?\s*$/.test(argv[2] ?? '')) return { afterMs: 0, code: 0 };
  }
  return undefined;
}
