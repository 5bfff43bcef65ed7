/**
 * Reading what `%mn_resume` printed (mirrorneuron_nb/kernel/resume.py, ResumeReport.render:
 * a headline, then a name/type/size/step table from render.table, then notes). Pure.
 */

export interface IRestoredRow {
  name: string;
  type: string;
  size: string;
  step: string;
}

export interface IParsedResume {
  /** "restored 3 variable(s) from 2 step(s) in 0.1 s (1.2 KB)" */
  headline: string | null;
  rows: IRestoredRow[];
  /** Every other line (not restored, library state, ...), as printed. */
  notes: string[];
}

const HEAD = 'mn_resume: ';

/** The table's columns from its dashes line ("----  ----"): [start, end) of each. */
function columns(dashes: string): [number, number][] {
  const out: [number, number][] = [];
  const re = /-+/g;
  let match: RegExpExecArray | null;
  while ((match = re.exec(dashes)) !== null) {
    out.push([match.index, match.index + match[0].length]);
  }
  return out;
}

export function parseResume(text: string): IParsedResume {
  const lines = text.split('\n');
  const at = lines.findIndex(line => line.startsWith(HEAD));
  if (at < 0) {
    return { headline: null, rows: [], notes: [] };
  }
  const headline = lines[at].slice(HEAD.length);
  const rows: IRestoredRow[] = [];
  let i = at + 1;
  if (/^name\s+type\s+size\s+step/.test(lines[i] ?? '') && /^-+(\s+-+){3}\s*$/.test(lines[i + 1] ?? '')) {
    const cols = columns(lines[i + 1]);
    // The last column runs to the end of the line; the others are padded to their width.
    const cell = (line: string, c: number): string =>
      line.slice(cols[c][0], c + 1 < cols.length ? cols[c + 1][0] : undefined).trim();
    // A row has a size where the size column is (render.format_bytes: "12 B", "3.4 KB").
    const isRow = (line: string): boolean => /^\d[\d.]* [KMGT]?B$/.test(cell(line, 2));
    for (i += 2; i < lines.length && isRow(lines[i]); i++) {
      const line = lines[i];
      rows.push({
        name: cell(line, 0),
        type: cell(line, 1),
        size: cell(line, 2),
        step: cell(line, 3)
      });
    }
  }
  const notes = lines.slice(i).filter(line => line.trim() !== '');
  return { headline, rows, notes };
}
