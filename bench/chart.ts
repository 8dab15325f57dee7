/** A small line chart as SVG (no dependency: four series and a few points need none). */
export interface ChartSeries {
  name: string;
  points: [number, number][];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd'];

export function renderLatencyChart(series: ChartSeries[], title: string): string {
  const W = 720, H = 420, L = 70, R = 190, T = 50, B = 60;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  const xMax = Math.max(1, ...xs);
  const yMax = niceCeil(Math.max(1, ...ys));
  const x = (v: number) => L + (v / xMax) * (W - L - R);
  const y = (v: number) => H - B - (v / yMax) * (H - T - B);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - R / 2}" y="25" text-anchor="middle" font-size="15">${escape(title)}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 15}" text-anchor="middle">engines</text>`,
    `<text x="18" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 18 ${(T + H - B) / 2})">latency (ms)</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const v = (yMax / 5) * i;
    parts.push(`<line x1="${L}" y1="${y(v)}" x2="${W - R}" y2="${y(v)}" stroke="#ddd"/>`, `<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${round(v)}</text>`);
  }
  for (const v of [...new Set(xs)].sort((a, b) => a - b)) parts.push(`<text x="${x(v)}" y="${H - B + 18}" text-anchor="middle">${v}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${x(p[0])},${y(p[1])}`).join(' ')}"/>`);
    for (const p of pts) parts.push(`<circle cx="${x(p[0])}" cy="${y(p[1])}" r="3.5" fill="${color}"/>`);
    parts.push(`<rect x="${W - R + 15}" y="${T + i * 22}" width="14" height="4" fill="${color}"/>`, `<text x="${W - R + 35}" y="${T + i * 22 + 6}">${escape(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function niceCeil(v: number): number {
  const mag = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * mag) return m * mag;
  return 10 * mag;
}

function round(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}
