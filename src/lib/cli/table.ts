/** Plain-text tables for people: columns padded to the widest cell, colour applied after padding. */

/**
 * Renders `rows` (the first is the header). `paint(column, cell)` may colour a body cell; widths are
 * computed on the plain text so colour codes never misalign the columns.
 */
export function formatTable(rows: readonly (readonly string[])[], paint?: (column: number, cell: string) => string): string {
  if (!rows.length) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r, row) =>
      r
        .map((cell, i) => {
          const padded = i === r.length - 1 ? cell : cell.padEnd(widths[i]!);
          return row > 0 && paint ? padded.replace(cell, paint(i, cell)) : padded;
        })
        .join('   '),
    )
    .join('\n');
}
