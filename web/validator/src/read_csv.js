// Reading a delimited text file into a sheet, as the CLI's reader does (validate/reading/delimited.py):
// UTF-8 (with or without a byte-order mark), else Windows-1252; the commonest of comma, semicolon
// and tab in the header line; headers and values trimmed as the CLI trims them (blanks.js), every
// value alike, an empty value missing; each record keeps the line it starts on. A file that cannot be read
// throws a ReadFailure carrying the CLI's sentence id.
//
// Most files are plain (every line a record, quotes only around whole values): those are left to
// DuckDB's own CSV reader (store.js), which reads them far faster, and in far less memory, than
// text parsed here. A scan of the bytes says whether a file is plain, in the terms of this
// reader, so that both read it alike; any other file is parsed here, as it always was.
import { trimPython, trimRust } from "./blanks.js";

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
// and the line it starts on. Throws where the quoting goes wrong, as the CLI reports it
// (delimited._csv_stop).
//
// A value is quoted when its first character is a quote; in any other a quote is text, as polars,
// the CLI's reader, reads it (`ab"c"d`, ` "N" `). But polars finds where a record ends by pairing
// every quote of the file: a record whose unquoted values hold an odd number of quotes runs on
// past its line break (or ends at a line break inside a later quoted value), and polars refuses
// the file; the CLI refuses it even where polars reads it (the last record, with no line break
// after it), and so does this parser: at the record's first value with an odd number of quotes.
function parse(text, sep, file) {
  const records = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const start = line;
    const cells = [];
    let column = 0;
    let loose = 0; // quotes in the record's unquoted values
    let odd = null; // [line, column] of its first value with an odd number of them
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
          if (c === "\n") {
            // polars takes it for the record's end (pairing every quote, as above)
            if (loose % 2) throw new ReadFailure("file/csv-bad-quoting", { file, line: odd[0], column: letter(odd[1]) });
            line++;
          }
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
        loose += quotes;
        if (quotes % 2 && odd === null) odd = [line, column];
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
    if (loose % 2) throw new ReadFailure("file/csv-bad-quoting", { file, line: odd[0], column: letter(odd[1]) });
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

// A value as the CLI reads it: trimmed, empty as missing.
function clean(value) {
  if (value === null) return null;
  const trimmed = trimRust(value);
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

const UTF8_NAMES = ["utf-8", "utf8", "utf-8-sig"];

// Whether the bytes are UTF-8, without holding them as text: an ASCII run is passed a word at a
// time, the rest decoded a block at a time and let go.
function isUtf8(bytes) {
  const n = bytes.length;
  let i = 0;
  if (bytes.byteOffset % 4 === 0) {
    const words = new Uint32Array(bytes.buffer, bytes.byteOffset, n >> 2);
    let w = 0;
    while (w < words.length && !(words[w] & 0x80808080)) w++;
    i = w << 2;
  }
  while (i < n && bytes[i] < 0x80) i++;
  if (i === n) return true;
  const decoder = new TextDecoder("utf-8", { fatal: true });
  try {
    for (let at = i; at < n; at += 1 << 22) decoder.decode(bytes.subarray(at, Math.min(n, at + (1 << 22))), { stream: true });
    decoder.decode();
    return true;
  } catch {
    return false;
  }
}

function decodeCp1252(bytes, file) {
  const bad = cp1252Undefined(bytes);
  if (bad !== null) throw new ReadFailure("file/encoding-not-detected", { file, byte: bad + 1 });
  return { text: new TextDecoder("windows-1252").decode(bytes), encoding: "cp1252" };
}

const isBlankByte = (b) => b <= 32 || b >= 128;

// The records of a plain file, from the bytes after its header line, as parse() reads them; null
// where DuckDB's reader might read them otherwise: a line break or a NUL inside quotes, text after
// a closing quote, a quote inside an unquoted value, a carriage return not before a line feed,
// line endings mixed, more values than the header has, or an empty line before a record (DuckDB
// skips an empty line; parse() reads it as a blank record). Also, per column, whether a value may
// need trimming, and how many records may be blank (all values blank once trimmed).
function scanPlain(bytes, start, sep, width, endings) {
  const n = bytes.length;
  const SEP = sep.charCodeAt(0);
  const padded = new Uint8Array(width);
  let { crlf, lf } = endings;
  let records = 0;
  let maybeBlank = 0;
  let empty = 0; // empty lines since the last record that was not
  let i = start;
  let b = 0;
  while (i < n) {
    b = bytes[i];
    if (b === 10 || (b === 13 && bytes[i + 1] === 10)) {
      if (b === 13) crlf++;
      else lf++;
      i += b === 13 ? 2 : 1;
      records++;
      empty++;
      continue;
    }
    if (empty) return null;
    let column = 0;
    let solid = false;
    for (;;) {
      if (column >= width) return null;
      let first = -1;
      let last = -1;
      const quoted = bytes[i] === 34;
      if (quoted) {
        const begin = ++i;
        for (;;) {
          if (i >= n) return null;
          b = bytes[i];
          if (b === 34) {
            if (bytes[i + 1] === 34) {
              i += 2;
              continue;
            }
            break;
          }
          if (b === 10 || b === 13 || b === 0) return null;
          i++;
        }
        if (i > begin) {
          first = bytes[begin];
          last = bytes[i - 1];
        }
        i++;
      } else {
        const begin = i;
        while (i < n) {
          b = bytes[i];
          if (b === SEP || b === 10 || b === 13) break;
          if (b === 34 || b === 0) return null;
          i++;
        }
        if (i > begin) {
          first = bytes[begin];
          last = bytes[i - 1];
        }
      }
      if (first >= 0) {
        if (isBlankByte(first) || isBlankByte(last)) padded[column] = 1;
        if (!isBlankByte(first) || !isBlankByte(last)) solid = true;
      }
      b = i < n ? bytes[i] : -1;
      if (b === SEP) {
        i++;
        column++;
        continue;
      }
      break;
    }
    if (b === 13) {
      if (bytes[i + 1] !== 10) return null;
      crlf++;
      i += 2;
    } else if (b === 10) {
      lf++;
      i++;
    } else if (b !== -1) {
      return null; // text after a closing quote
    }
    records++;
    if (!solid) maybeBlank++;
  }
  if (crlf && lf) return null;
  return { records, padded, maybeBlank, trailingBlank: empty };
}

// The header line's cells and the delimiter, and the checks made of the header (the CLI's
// _check_columns): a line break in a name, more columns than the limit; the most records the
// cell limit allows.
function headerOf(header, sep, file, limits) {
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
  return most;
}

// A plain file for DuckDB's reader (store.js), or null: ``utf8`` the file's bytes when they are
// UTF-8, else its text encoded as UTF-8 (DuckDB reads only that). Its ``padded`` columns are those
// to trim: where some value starts or ends with a byte that may be white space.
function plainSource(utf8, original, text, file, sep, limits) {
  if (sep.length !== 1 || sep.charCodeAt(0) > 127 || '"\r\n'.includes(sep)) return null;
  const bytes = utf8 ?? new TextEncoder().encode(text);
  const end = bytes.indexOf(10); // found: the caller saw a line break in the first block
  const crlf = end > 0 && bytes[end - 1] === 13;
  const line = new TextDecoder("utf-8").decode(bytes.subarray(0, crlf ? end - 1 : end)).replace(/^\uFEFF+/, "");
  if (!line || line.includes("\r")) return null;
  const most = headerOf(line, sep, file, limits);
  const headers = (parse(line, sep, file)[0]?.cells ?? []).map((h) => trimPython(h ?? ""));
  const scanned = scanPlain(bytes, end + 1, sep, headers.length, { crlf: crlf ? 1 : 0, lf: crlf ? 0 : 1 });
  if (scanned === null) return null;
  const found = scanned;
  if (found.records > most) {
    throw new ReadFailure("file/too-many-records", { file, most, columns: headers.length, limit: limits.cells });
  }
  return { name: null, headers, plain: { bytes: original ? null : bytes, sep, ...found } };
}

// ``stated``: the encoding and delimiter a profile gives, else null (found from the file);
// ``limits``: the CLI's default limits (mhdeaths.limits), from the bundle; ``parsed``: parse the
// file here even when it is plain (DuckDB's reader did not read it as expected);
// ``beforeParsing``: called before a file is parsed here (it may refuse one too large). A plain
// file's sheet carries ``plain`` (what store.js needs) where others carry their columns.
export function readCsv(bytes, file, stated = {}, limits = null, { parsed = false, beforeParsing = () => {} } = {}) {
  const head = bytes.subarray(0, 65536);
  // Empty, or ASCII white space alone (the CLI's bytes.strip()).
  if (head.every((b) => b === 32 || (b >= 9 && b <= 13))) {
    return { format: "csv", encoding: "utf-8", delimiter: ",", sheets: [{ name: null, headers: [], columns: [], rows: [], blankRows: 0 }] };
  }
  if (head.includes(0)) throw new ReadFailure("file/binary", { file });
  const oldMac = head.includes(13) && !head.includes(10);
  if (limits) checkLineLengths(bytes, file, limits.line_length, oldMac ? 13 : 10);
  let text = null;
  let encoding = "utf-8";
  let utf8 = null; // the file's own bytes, when they are UTF-8
  const statedName = stated.encoding ? stated.encoding.toLowerCase().replaceAll("_", "-") : null;
  if (statedName !== null && !UTF8_NAMES.includes(statedName)) ({ text, encoding } = decodeStated(bytes, file, stated.encoding));
  else if (isUtf8(bytes)) utf8 = bytes;
  else if (statedName !== null) throw new ReadFailure("file/not-utf8", { file });
  else ({ text, encoding } = decodeCp1252(bytes, file));
  if (!parsed && !oldMac) {
    const start = utf8 ? new TextDecoder("utf-8").decode(utf8.subarray(0, 65536)) : text.slice(0, 65536);
    // The header line whole in the first block (or the file read here, as an old Mac's may be).
    if (start.includes("\n")) {
      const sep = stated.delimiter || sniffDelimiter(start.replace(/^\uFEFF/, ""));
      const sheet = plainSource(utf8, utf8 !== null, text, file, sep, limits);
      if (sheet) return { format: "csv", encoding, delimiter: sep, sheets: [sheet] };
    }
  }
  beforeParsing();
  if (text === null) text = new TextDecoder("utf-8", { ignoreBOM: false }).decode(bytes);
  return parsedCsv(text, encoding, file, stated, limits);
}

function parsedCsv(text, encoding, file, stated, limits) {
  // Old Mac line endings: the CLI reads them as newlines.
  const oldMac = text.includes("\r") && !text.slice(0, 65536).includes("\n");
  if (oldMac) text = text.replaceAll("\r", "\n");
  // The header line without its byte-order marks, all of them, as the CLI reads it.
  text = text.replace(/^\uFEFF+/, "");
  const sep = stated.delimiter || sniffDelimiter(text);
  const header = firstLine(text);
  const most = headerOf(header, sep, file, limits);
  const records = parse(text, sep, file);
  const headers = (records.shift()?.cells ?? []).map((h) => trimPython(h ?? ""));
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
