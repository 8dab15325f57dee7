/** v1's random strategy: a Fisher–Yates shuffle, no resource check at all (for debugging). */
import type { Strategy } from './strategy';

export const randomStrategy: Strategy = {
  name: 'random',
  rank(nodes, _request, options = {}) {
    const rng = options.rng ?? Math.random;
    const out = [...nodes];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.min(i, Math.floor(rng() * (i + 1)));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return { ok: true, ranked: out.map((node) => ({ node })) };
  },
};
