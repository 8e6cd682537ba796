// Go text/tabwriter (flags 0, padchar ' '), as docker uses it for tables:
// tabwriter.NewWriter(out, minwidth 10, tabwidth 1, padding 3, ' ', 0). Pure: no I/O.
// Cells are tab-terminated; the text after the last tab of a line is not aligned.

function width(s: string): number {
  return [...s].length;
}

export function tabwrite(text: string, minwidth = 10, padding = 3): string {
  const endsNl = text.endsWith('\n');
  const rawLines = (endsNl ? text.slice(0, -1) : text).split('\n');
  const lines: string[][] = rawLines.map((l) => l.split('\t'));
  const widths: number[][] = lines.map((cells) => cells.map(() => 0));

  // Go's recursive block algorithm: a column block is a run of consecutive lines that all
  // have a tab-terminated cell in that column.
  const format = (line0: number, line1: number, col: number): void => {
    let i = line0;
    while (i < line1) {
      if (col >= lines[i].length - 1) {
        i++;
        continue;
      }
      const start = i;
      let w = minwidth;
      let j = i;
      for (; j < line1 && col < lines[j].length - 1; j++) {
        const cw = width(lines[j][col]) + padding;
        if (cw > w) w = cw;
      }
      for (let k = start; k < j; k++) widths[k][col] = w;
      format(start, j, col + 1);
      i = j;
    }
  };
  format(0, lines.length, 0);

  const out = lines.map((cells, li) =>
    cells
      .map((c, ci) => {
        if (ci === cells.length - 1) return c;
        return c + ' '.repeat(Math.max(0, widths[li][ci] - width(c)));
      })
      .join(''),
  );
  return out.join('\n') + (endsNl ? '\n' : '');
}
