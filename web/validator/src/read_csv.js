// Reading a delimited text file into a sheet, as the CLI's reader does (validate/reading/delimited.py):
// UTF-8 (with or without a byte-order mark), else Windows-1252; the commonest of comma, semicolon
// and tab in the header line; values trimmed, an empty value missing; each record keeps the line it
// starts on. A file that cannot be read throws a ReadFailure carrying the CLI's sentence id.

export class ReadFailure extends Error {
  // A sentence of the bundle's own (a template) when the id's catalogued sentence is not the one.
  constructor(id, values, template = null) {
    super(id);
    this.id = id;
    this.values = values;
    this.template = template;
  }
}

// Bytes Windows-1252 leaves undefined: Python's cp1252 codec refuses them, and so does the CLI.
const CP1252_UNDEFINED = new Set([0x81, 0x8d, 0x8f, 0x90, 0x9d]);

function decode(bytes, file) {
  try {
    return { text: new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes), encoding: "utf-8" };
  } catch {
    const bad = cp1252Undefined(bytes);
    if (bad !== null) throw new ReadFailure("file/encoding-not-detected", { file, byte: bad + 1 });
    return { text: new TextDecoder("windows-1252").decode(bytes), encoding: "cp1252" };
  }
}

function cp1252Undefined(bytes) {
  for (let i = 0; i < bytes.length; i++) if (CP1252_UNDEFINED.has(bytes[i])) return i;
  return null;
}

// The first byte a decoder cannot read, found by halving (only when the file is not that text).
function firstBadByte(bytes, label) {
  let good = 0;
  let bad = bytes.length;
  while (bad - good > 1) {
    const middle = (good + bad) >> 1;
    try {
      new TextDecoder(label, { fatal: true }).decode(bytes.subarray(0, middle), { stream: true });
      good = middle;
    } catch {
      bad = middle;
    }
  }
  return bad;
}

// The encoding a profile states, as the CLI takes it (delimited._decode): the names of Latin-1 and
// Windows-1252 as Windows-1252, UTF-8's as the default reading; others as the browser knows them.
function decodeStated(bytes, file, stated) {
  const name = stated.toLowerCase().replaceAll("_", "-");
  if (["utf-8", "utf8", "utf-8-sig"].includes(name)) {
    try {
      return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes), encoding: "utf-8" };
    } catch {
      throw new ReadFailure("file/not-utf8", { file });
    }
  }
  const cp1252 = ["windows-1252", "cp-1252", "cp1252", "latin-1", "latin1", "iso-8859-1"].includes(name);
  const label = cp1252 ? "windows-1252" : name;
  let decoder;
  try {
    decoder = new TextDecoder(label, { fatal: true });
  } catch {
    throw new ReadFailure("file/encoding-unknown", { encoding: stated });
  }
  if (cp1252) {
    const bad = cp1252Undefined(bytes);
    if (bad !== null) throw new ReadFailure("file/encoding-mismatch", { file, encoding: stated, byte: bad + 1 });
  }
  try {
    return { text: decoder.decode(bytes), encoding: name.startsWith("utf") ? "utf-8" : cp1252 ? "cp1252" : name };
  } catch {
    throw new ReadFailure("file/encoding-mismatch", { file, encoding: stated, byte: firstBadByte(bytes, label) });
  }
}

function firstLine(text) {
  const end = text.indexOf("\n");
  return (end >= 0 ? text.slice(0, end) : text).replace(/^\uFEFF+/, "");
}

function sniffDelimiter(text) {
  const line = firstLine(text);
  let best = ",";
  let most = 0;
  for (const sep of [",", ";", "\t"]) {
    const n = line.split(sep).length - 1;
    if (n > most) {
      best = sep;
      most = n;
    }
  }
  return best;
}

// Records of a CSV text: each an array of raw cells (null where a value was empty and unquoted)
// and the line it starts on. Throws where the quoting goes wrong, as the CLI reports it.
function parse(text, sep, file) {
  const records = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const start = line;
    const cells = [];
    let column = 0;
    for (;;) {
      let cell = "";
      let quoted = false;
      if (text[i] === '"') {
        quoted = true;
        const open = line;
        i++;
        for (;;) {
          if (i >= n) throw new ReadFailure("file/csv-bad-quoting", { file, line: open, column: letter(column) });
          const c = text[i];
          if (c === '"') {
            if (text[i + 1] === '"') {
              cell += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === "\n") line++;
          cell += c;
          i++;
        }
        if (i < n && text[i] !== sep && text[i] !== "\n" && text[i] !== "\r") {
          throw new ReadFailure("file/csv-bad-quoting", { file, line, column: letter(column) });
        }
      } else {
        let quotes = 0;
        while (i < n && text[i] !== sep && text[i] !== "\n") {
          if (text[i] === '"') quotes++;
          cell += text[i];
          i++;
        }
        // Quotes inside an unquoted cell (` "N" `): polars, the CLI's reader, keeps them as text
        // when they pair up, and refuses the file where one is left open.
        if (quotes % 2) throw new ReadFailure("file/csv-bad-quoting", { file, line, column: letter(column) });
        if (cell.endsWith("\r")) cell = cell.slice(0, -1);
      }
      if (text[i] === "\r") i++;
      cells.push(quoted || cell !== "" ? cell : null);
      if (i < n && text[i] === sep) {
        i++;
        column++;
        continue;
      }
      break;
    }
    if (i < n && text[i] === "\n") {
      i++;
      line++;
    }
    records.push({ cells, line: start });
  }
  return records;
}

export function letter(index) {
  let letters = "";
  index += 1;
  while (index) {
    const rest = (index - 1) % 26;
    index = Math.floor((index - 1) / 26);
    letters = String.fromCharCode(65 + rest) + letters;
  }
  return letters;
}

function clean(value) {
  if (value === null) return null;
  const trimmed = value.trim();
  return trimmed === "" ? null : trimmed;
}

// A sheet: { name, headers, columns (arrays of text by column), rows (row numbers), blankRows }.
// A size as a person reads it (limits.bytes_text): 1 GiB, 512 MiB, 3,000 bytes.
export function bytesText(size) {
  for (const [unit, factor] of [["GiB", 2 ** 30], ["MiB", 2 ** 20], ["KiB", 2 ** 10]]) {
    if (size >= factor && size % factor === 0) return `${(size / factor).toLocaleString("en-GB")} ${unit}`;
  }
  return `${size.toLocaleString("en-GB")} bytes`;
}

// Refuse a line longer than the limit before decoding (delimited._check_line_lengths).
function checkLineLengths(bytes, file, limit, newline) {
  let start = 0;
  while (start < bytes.length) {
    const end = bytes.indexOf(newline, start);
    const stop = end < 0 ? bytes.length : end;
    if (stop - start > limit) throw new ReadFailure("file/line-too-long", { file, limit: bytesText(limit) });
    start = stop + 1;
  }
}

// ``stated``: the encoding and delimiter a profile gives, else null (found from the file);
// ``limits``: the CLI's default limits (mhdeaths.limits), from the bundle.
export function readCsv(bytes, file, stated = {}, limits = null) {
  const head = bytes.subarray(0, 65536);
  if (!new TextDecoder("latin1").decode(head).trim()) {
    return { format: "csv", encoding: "utf-8", delimiter: ",", sheets: [{ name: null, headers: [], columns: [], rows: [], blankRows: 0 }] };
  }
  if (head.includes(0)) throw new ReadFailure("file/binary", { file });
  const oldMac = head.includes(13) && !head.includes(10);
  if (limits) checkLineLengths(bytes, file, limits.line_length, oldMac ? 13 : 10);
  let { text, encoding } = stated.encoding ? decodeStated(bytes, file, stated.encoding) : decode(bytes, file);
  if (text.includes("\r") && !text.slice(0, 65536).includes("\n")) text = text.replaceAll("\r", "\n");
  text = text.replace(/^\uFEFF/, "");
  const sep = stated.delimiter || sniffDelimiter(text);
  const header = firstLine(text);
  if ((header.split('"').length - 1) % 2) throw new ReadFailure("file/header-line-break", { file });
  let most = Infinity;
  if (limits) {
    let columns = header.split(sep).length;
    if (columns > limits.columns) {
      columns = parse(header, sep, file)[0]?.cells.length ?? columns;
      if (columns > limits.columns) throw new ReadFailure("file/too-many-columns", { file, columns, limit: limits.columns });
    }
    most = Math.max(Math.floor(limits.cells / columns), 1);
  }
  const records = parse(text, sep, file);
  const headers = (records.shift()?.cells ?? []).map((h) => (h ?? "").trim());
  const width = headers.length;
  for (const record of records) {
    if (record.cells.length > width) {
      throw new ReadFailure("file/csv-too-many-values", { file, line: record.line, values: record.cells.length, expected: width });
    }
  }
  if (records.length > most) {
    throw new ReadFailure("file/too-many-records", { file, most, columns: width, limit: limits.cells });
  }
  const columns = headers.map(() => []);
  const rows = [];
  let blankRows = 0;
  for (const record of records) {
    const values = headers.map((_, c) => clean(c < record.cells.length ? record.cells[c] : null));
    if (values.every((v) => v === null)) {
      blankRows++;
      continue;
    }
    values.forEach((v, c) => columns[c].push(v));
    rows.push(record.line);
  }
  return { format: "csv", encoding, delimiter: sep, sheets: [{ name: null, headers, columns, rows, blankRows }] };
}
