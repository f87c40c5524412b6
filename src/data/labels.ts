/**
 * Ground-truth labels for a folder of images, from a CSV file with a header row naming the
 * columns `file` and `label` (other columns are ignored). `file` is relative to the folder.
 * Parsing follows RFC 4180: quoted fields may hold commas, quotes ("") and line breaks; CRLF and
 * a UTF-8 byte order mark are accepted. Labels are only ever used for evaluation.
 */

/**
 * Split CSV text into rows of fields.
 *
 * @throws {TypeError} on an unterminated quoted field.
 */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let fieldStart = true;
  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        field += ch;
      }
    } else if (ch === '"' && fieldStart) {
      quoted = true;
      fieldStart = false;
    } else if (ch === ",") {
      row.push(field);
      field = "";
      fieldStart = true;
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      fieldStart = true;
    } else {
      field += ch;
      fieldStart = false;
    }
  }
  if (quoted) throw new TypeError("Cannot parse CSV: a quoted field is not closed");
  if (!fieldStart || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0].trim() === ""));
}

/**
 * Parse a labels CSV: header with `file` and `label` columns, one row per image.
 *
 * @returns file (relative path, without a leading "./") to label.
 * @throws {TypeError} when the header lacks a column, a row is short, a file is empty, or one
 *   file is given two different labels.
 */
export function parseLabels(text: string, source = "labels"): Map<string, string> {
  const [header, ...rows] = parseCsv(text);
  const names = (header ?? []).map((name) => name.trim().toLowerCase());
  const fileColumn = names.indexOf("file");
  const labelColumn = names.indexOf("label");
  if (fileColumn < 0 || labelColumn < 0) {
    throw new TypeError(
      `Cannot read labels from ${source}: the header must name the columns file and label, ` +
        `current value is ${JSON.stringify((header ?? []).join(","))}`,
    );
  }
  const labels = new Map<string, string>();
  rows.forEach((row, i) => {
    const line = i + 2;
    if (row.length <= Math.max(fileColumn, labelColumn)) {
      throw new TypeError(
        `Cannot read labels from ${source}: row ${line} has ${row.length} fields, ` +
          `expected at least ${Math.max(fileColumn, labelColumn) + 1}`,
      );
    }
    const file = row[fileColumn].trim().replace(/^(\.\/)+/, "");
    const label = row[labelColumn].trim();
    if (file === "") {
      throw new TypeError(`Cannot read labels from ${source}: row ${line} has no file`);
    }
    const previous = labels.get(file);
    if (previous !== undefined && previous !== label) {
      throw new TypeError(
        `Cannot read labels from ${source}: ${file} is labelled both ${previous} and ${label}`,
      );
    }
    labels.set(file, label);
  });
  return labels;
}

/** Read and parse a labels CSV file (see `parseLabels`). */
export async function readLabels(csvPath: string): Promise<Map<string, string>> {
  return parseLabels(await Deno.readTextFile(csvPath), csvPath);
}
