// Reading an Excel workbook (.xlsx) into sheets, as the CLI's reader does (validate/reading/excel.py,
// which reads every cell as text through fastexcel and calamine): the sheets in the workbook's order;
// shared and inline strings (rich text joined, phonetic runs left out); a number as fastexcel writes
// it as text (nine decimals at most, trailing zeros dropped); a cell whose number format is a date
// or time as the date-time calamine makes of it; true/false; an error cell empty. Each sheet is the
// box of its non-empty cells, its header the first row with a value, as the CLI finds them.
import { unzipSync } from "fflate";
import { trimRust } from "./blanks.js";
import { ReadFailure, bytesText, letter } from "./read_csv.js";
import { fixed } from "./words.js";

const DATE_TIME = 1;
const TIME_DELTA = 2;

// --- a small XML reader: tags and the text between them ---------------------------------------

const TAG = /<(\/?)(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)((?:[^>"']|"[^"]*"|'[^']*')*?)(\/?)>|<!\[CDATA\[([\s\S]*?)\]\]>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>/g;
const ATTRIBUTE = /(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
const ENTITY = /&(?:#x([0-9a-fA-F]+)|#([0-9]+)|(lt|gt|amp|quot|apos));/g;
const NAMED = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function entities(text) {
  if (!text.includes("&")) return text;
  return text.replace(ENTITY, (_, hex, dec, name) => (name ? NAMED[name] : String.fromCodePoint(parseInt(hex ?? dec, hex ? 16 : 10))));
}

function attributes(text) {
  const out = {};
  if (!text) return out;
  for (const m of text.matchAll(ATTRIBUTE)) out[m[1]] = entities(m[2] ?? m[3]);
  return out;
}

// Each event of an XML text: { kind: "start" | "end" | "empty" | "text", name, attrs, text }. An
// element's reader takes events from the same stream and may stop early: leaving its loop must
// not end the stream, so the stream ignores being closed.
function events(xml) {
  const stream = eventStream(xml);
  return { [Symbol.iterator]() { return this; }, next: () => stream.next(), return: () => ({ done: true }) };
}

function* eventStream(xml) {
  TAG.lastIndex = 0;
  let at = 0;
  for (let m = TAG.exec(xml); m !== null; m = TAG.exec(xml)) {
    if (m.index > at) yield { kind: "text", text: entities(xml.slice(at, m.index)) };
    at = TAG.lastIndex;
    if (m[5] !== undefined) yield { kind: "text", text: m[5] };
    else if (m[2] === undefined) continue; // a comment or a processing instruction
    else if (m[1]) yield { kind: "end", name: m[2] };
    else yield { kind: m[4] ? "empty" : "start", name: m[2], attrs: m[3] };
  }
  if (at < xml.length) yield { kind: "text", text: entities(xml.slice(at)) };
}

// Excel's escape of a character XML cannot hold (_x000D_), as calamine undoes it.
function unescapeExcel(text) {
  return text.includes("_x") ? text.replace(/_x([0-9A-Fa-f]{4})_/g, (_, hex) => String.fromCharCode(parseInt(hex, 16))) : text;
}

// A string element (<si> or <is>) as calamine reads it: its <t> runs joined, the phonetic ones
// left out, each trimmed of ASCII blanks unless it keeps its spaces.
function readString(iterator, closing) {
  let value = null;
  let phonetic = false;
  for (const e of iterator) {
    if (e.kind === "end" && e.name === closing) return value ?? "";
    if (e.kind === "start" && e.name === "rPh") phonetic = true;
    else if (e.kind === "end" && e.name === "rPh") phonetic = false;
    else if (e.kind === "start" && e.name === "t" && !phonetic) {
      const keep = attributes(e.attrs).space === "preserve";
      let text = "";
      for (const inner of iterator) {
        if (inner.kind === "end" && inner.name === "t") break;
        if (inner.kind === "text") text += inner.text;
      }
      const part = unescapeExcel(keep ? text : text.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, ""));
      value = (value ?? "") + part;
    }
  }
  throw new Error("a string without its end");
}

function textOf(iterator, closing) {
  let text = "";
  for (const e of iterator) {
    if (e.kind === "end" && e.name === closing) return text;
    if (e.kind === "text") text += e.text;
  }
  throw new Error("an element without its end");
}

// --- the workbook's parts ---------------------------------------------------------------------

function sharedStrings(xml) {
  const strings = [];
  if (xml === null) return strings;
  const iterator = events(xml);
  for (const e of iterator) if (e.kind === "start" && e.name === "si") strings.push(readString(iterator, "si"));
  return strings;
}

// calamine's formats.detect_custom_number_format: is a number format a date, a duration or neither.
function customFormat(format) {
  let escaped = false;
  let quoted = false;
  let brackets = 0;
  let prev = " ";
  let hms = false;
  let ap = false;
  for (const s of format) {
    if (escaped) escaped = false;
    else if ("_\\*".includes(s)) escaped = true;
    else if (quoted) {
      if (s === '"') quoted = false;
    } else if (s === '"') quoted = true;
    else if (s === ";") return 0;
    else if (s === "[") brackets = Math.min(brackets + 1, 255);
    else if (s === "]" && brackets === 1 && hms) return TIME_DELTA;
    else if (s === "]") brackets = Math.max(brackets - 1, 0);
    else if ((s === "a" || s === "A") && !ap && brackets === 0) ap = true;
    else if ("pm/PM".includes(s) && ap && brackets === 0) return DATE_TIME;
    else if ("dmhysDMHYS".includes(s) && !ap && brackets === 0) return DATE_TIME;
    else if (!(hms && s.toLowerCase() === prev.toLowerCase())) hms = prev === "[" && "mhsMHS".includes(s);
    prev = s;
  }
  return 0;
}

function builtinFormat(id) {
  const n = Number(id);
  if ((n >= 14 && n <= 22) || n === 45 || n === 47) return DATE_TIME;
  return n === 46 ? TIME_DELTA : 0;
}

function styles(xml) {
  const formats = [];
  if (xml === null) return formats;
  const custom = new Map();
  let inXfs = false;
  for (const e of events(xml)) {
    if ((e.kind === "start" || e.kind === "empty") && e.name === "numFmt") {
      const a = attributes(e.attrs);
      if (a.numFmtId !== undefined && a.formatCode !== undefined) custom.set(a.numFmtId, a.formatCode);
    } else if (e.kind === "start" && e.name === "cellXfs") inXfs = true;
    else if (e.kind === "end" && e.name === "cellXfs") inXfs = false;
    else if (inXfs && (e.kind === "start" || e.kind === "empty") && e.name === "xf") {
      const id = attributes(e.attrs).numFmtId;
      formats.push(id === undefined ? 0 : custom.has(id) ? customFormat(custom.get(id)) : builtinFormat(id));
    }
  }
  return formats;
}

// --- values as text, as fastexcel writes them -------------------------------------------------

function floatText(x) {
  if (Number.isNaN(x)) return "NaN";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  // Rust's format!("{x:.9}"), then trailing zeros dropped (fastexcel's excel_float_to_string).
  return fixed(x, 9).replace(/0+$/, "").replace(/\.$/, "");
}

const pad = (n, width = 2) => String(n).padStart(width, "0");

// calamine's ExcelDateTime.as_datetime, shown as chrono shows a NaiveDateTime.
function dateTimeText(serial, is1904) {
  let f = is1904 ? serial + 1462 : serial;
  if (f < 60) f += 1;
  const ms = Math.sign(f) * Math.round(Math.abs(f * 86400000));
  const d = new Date(Date.UTC(1899, 11, 30) + ms);
  if (Number.isNaN(d.getTime())) return null;
  const millis = d.getUTCMilliseconds();
  const year = d.getUTCFullYear();
  const shownYear = year < 0 ? `-${pad(-year, 4)}` : year > 9999 ? `+${year}` : pad(year, 4);
  return `${shownYear}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${millis ? `.${pad(millis, 3)}` : ""}`;
}

// Rust's f64 parse of a <v>: a decimal number, or inf/infinity/nan in any case.
const NUMBER = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)$/i;

function parseNumber(v) {
  if (!NUMBER.test(v)) return null;
  const lower = v.toLowerCase().replace(/^[+-]/, "");
  if (lower === "nan") return NaN;
  if (lower.startsWith("inf")) return v.startsWith("-") ? -Infinity : Infinity;
  return Number(v);
}

// A cell's value: undefined for an empty cell (no part of the sheet's box), null for a cell that
// holds something with no text (an error), else its text.
function cellValue(book, type, style, v) {
  switch (type) {
    case "s": {
      if (v === "") return undefined;
      const index = /^\d+$/.test(v) ? Number(v) : 0;
      if (index >= book.strings.length) throw new Error("a shared string that is not there");
      return book.strings[index];
    }
    case "b":
      return v !== "0" ? "true" : "false";
    case "d":
    case "str":
      return v;
    case "e":
      return null;
    case "n":
    case undefined: {
      if (v === "") return undefined;
      const n = parseNumber(v);
      if (n === null) {
        if (type === undefined) return v;
        throw new Error("a number that is not one");
      }
      const format = style === undefined ? 0 : book.formats[/^\d+$/.test(style) ? Number(style) : 0];
      return format === DATE_TIME || format === TIME_DELTA ? dateTimeText(n, book.is1904) : floatText(n);
    }
    default:
      throw new Error("a cell of an unknown type");
  }
}

function cellPosition(reference) {
  const m = /^\$?([A-Z]{1,3})\$?(\d+)$/.exec(reference);
  if (!m) throw new Error("a cell reference that is not one");
  let column = 0;
  for (const ch of m[1]) column = column * 26 + ch.charCodeAt(0) - 64;
  return [Number(m[2]) - 1, column - 1];
}

// Every non-empty cell of a worksheet, as [row, column, text] in the order the sheet gives them.
function sheetCells(book, xml) {
  const cells = [];
  let row = 0;
  let column = 0;
  const iterator = events(xml);
  for (const e of iterator) {
    if (e.kind === "start" && e.name === "row") {
      const r = attributes(e.attrs).r;
      if (r !== undefined) row = Number(r) - 1;
    } else if (e.kind === "end" && e.name === "row") {
      row += 1;
      column = 0;
    } else if (e.kind === "start" && e.name === "c") {
      const a = attributes(e.attrs);
      const at = a.r !== undefined ? cellPosition(a.r) : [row, column];
      column = at[1];
      let value;
      for (const inner of iterator) {
        if (inner.kind === "end" && inner.name === "c") break;
        if (inner.kind !== "start") continue;
        if (inner.name === "is") value = readString(iterator, "is");
        else if (inner.name === "v") {
          const v = textOf(iterator, "v");
          value = a.t === "inlineStr" || a.t === "is" ? undefined : cellValue(book, a.t, a.s, v);
        } else if (inner.name === "f") {
          textOf(iterator, "f");
          value = undefined;
        } else throw new Error("an unexpected element in a cell");
      }
      column += 1;
      if (value !== undefined) cells.push([at[0], at[1], value]);
    } else if (e.kind === "end" && e.name === "sheetData") break;
  }
  return cells;
}

// The CLI's Excel times: a time of day alone is a date-time on Excel's day zero; keep the time.
const EXCEL_TIME = /^1899-12-31[ T](\d{2}:\d{2})(?::00(?:\.0+)?)?$/;
const EXCEL_TIME_SECONDS = /^1899-12-31[ T](\d{2}:\d{2}:\d{2})(?:\.\d+)?$/;

// A cell as the CLI's reader leaves it: trimmed of Rust's white space (blanks.js), empty as missing.
function clean(value) {
  if (value === null || value === undefined) return null;
  const text = trimRust(value);
  if (text === "") return null;
  return text.replace(EXCEL_TIME, "$1").replace(EXCEL_TIME_SECONDS, "$1");
}

// A sheet as excel._excel_sheet makes it from fastexcel's frame: every row from the first, the
// columns from the leftmost with a value (``firstColumn``, 0 for A: a finding names the sheet's own
// letter), its header the first row with a value (``headerRow``, as Excel numbers it), the empty
// unnamed columns at its end dropped.
function sheetOf(name, cells, hideHeader) {
  const empty = { name, headers: [], columns: [], rows: [], blankRows: 0 };
  if (!cells.length) return empty;
  const top = 0;
  let left = Infinity;
  let bottom = -1;
  let right = -1;
  for (const [r, c] of cells) {
    left = Math.min(left, c);
    bottom = Math.max(bottom, r);
    right = Math.max(right, c);
  }
  const height = bottom - top + 1;
  const width = right - left + 1;
  const grid = Array.from({ length: height }, () => new Array(width).fill(null));
  for (const [r, c, v] of cells) grid[r - top][c - left] = clean(v);
  const first = grid.findIndex((values) => values.some((v) => v !== null));
  if (first < 0) return empty;
  const headers = grid[first].map((v) => hideHeader(v ?? ""));
  const body = grid.slice(first + 1);
  while (headers.length && !headers[headers.length - 1] && body.every((values) => values[headers.length - 1] === null)) headers.pop();
  const columns = headers.map(() => []);
  const rows = [];
  let blankRows = 0;
  body.forEach((values, i) => {
    const kept = values.slice(0, headers.length);
    if (kept.every((v) => v === null)) {
      blankRows++;
      return;
    }
    kept.forEach((v, c) => columns[c].push(v));
    rows.push(first + 2 + i);
  });
  return { name, headers, columns, rows, blankRows, headerRow: first + 1, firstColumn: left };
}

function relationships(xml) {
  const out = new Map();
  if (xml === null) return out;
  for (const e of events(xml)) {
    if ((e.kind === "start" || e.kind === "empty") && e.name === "Relationship") {
      const a = attributes(e.attrs);
      out.set(a.Id, a);
    }
  }
  return out;
}

function partPath(base, target) {
  if (target.startsWith("/")) return target.slice(1);
  const parts = base.split("/").slice(0, -1);
  for (const piece of target.split("/")) {
    if (piece === "..") parts.pop();
    else if (piece !== ".") parts.push(piece);
  }
  return parts.join("/");
}

// --- the used ranges, counted before a sheet is read (excel._check_workbook) --------------------
// The CLI's Excel reader holds a sheet's whole used range, so the CLI counts every part's rows and
// columns (from the cells themselves, not the <dimension>) and its shared strings, a mebibyte of
// the unzipped part at a time, and refuses a workbook past the column or cell limit. The page
// counts the same way, with the same regular expressions, over each part's bytes taken one
// character a byte, so that a refusal gives the CLI's figures. (The CLI unzips a deflated part in
// pieces of at most a mebibyte; the page's pieces are a mebibyte each, the CLI's too but where a
// mebibyte of compressed data ends, some ten mebibytes into a part.)
const PIECE = 1 << 20;
const DIMENSION = /<(?:\w+:)?dimension ref="\$?([A-Z]{1,3})\$?(\d+)(?::\$?([A-Z]{1,3})\$?(\d+))?"/;
const PREFIX = /<(\/?)[A-Za-z_][\w.-]*:/g;
const PREFIXED = /:(?:row|c|si)[ \t\n\r\f\v>/]/;
const ODD_REFERENCE = / r *= *['"]/g;
const ODD_SIGN = /r(?: +=|= *'|= )/;
const ROW_NUMBER = / r="\$?(\d+)/g;
const CELL_COLUMN = / r="\$?([A-Z]{1,3})\$?\d/g;
const CELL_ROW = / r="\$?[A-Z]{1,3}\$?(\d+)/g;

// Bytes as a string of one character a byte (positions and ASCII searches as on the bytes).
function byteText(bytes) {
  let out = "";
  for (let at = 0; at < bytes.length; at += 8192) out += String.fromCharCode.apply(null, bytes.subarray(at, at + 8192));
  return out;
}

function plainTags(text) {
  text = text.replace(/[\t\n\r]/g, " ");
  if (PREFIXED.test(text)) text = text.replace(PREFIX, "<$1");
  if (ODD_SIGN.test(text)) text = text.replace(ODD_REFERENCE, ' r="').replaceAll("'", '"');
  return text;
}

function count(text, sub) {
  let n = 0;
  for (let at = text.indexOf(sub); at >= 0; at = text.indexOf(sub, at + sub.length)) n++;
  return n;
}

// The largest of the numbers and ``start`` (a spread of tens of thousands would overflow the stack).
function maxOf(start, numbers) {
  let best = start;
  for (const n of numbers) if (n > best) best = n;
  return best;
}

const tags = (text, name) => count(text, `<${name} `) + count(text, `<${name}>`) + count(text, `<${name}/`);

function columnNumber(letters) {
  let n = 0;
  for (const c of letters) n = n * 26 + c.charCodeAt(0) - 64;
  return n;
}

class UsedRange {
  constructor() {
    this.rest = "";
    this.lastRow = 0;
    this.unnumberedRows = 0;
    this.lastColumn = 0;
    this.widestUnnumbered = 0;
    this.dimension = [0, 0];
    this.started = false;
  }

  feed(piece) {
    if (!this.started) {
      this.started = true;
      const found = DIMENSION.exec(piece.slice(0, 16384));
      if (found) {
        const [, firstCol, firstRow, lastCol, lastRow] = found;
        const rows = Number(lastRow ?? firstRow) - Number(firstRow) + 1;
        const columns = columnNumber(lastCol ?? firstCol) - columnNumber(firstCol);
        this.dimension = [Math.max(rows, 0), Math.max(columns + 1, 0)];
      }
    }
    const text = this.rest + piece;
    let cut = Math.max(text.lastIndexOf("<row"), text.lastIndexOf(":row"));
    if (cut <= 0) {
      if (text.length <= 16 * PIECE) {
        this.rest = text;
        return;
      }
      cut = text.length;
    }
    this.count(text.slice(0, cut));
    this.rest = text.slice(cut);
  }

  end() {
    this.count(this.rest);
    this.rest = "";
  }

  count(text) {
    if (!text) return;
    text = plainTags(text);
    const numbered = [...text.matchAll(ROW_NUMBER)].map((m) => Number(m[1]));
    this.lastRow = maxOf(this.lastRow, numbered);
    this.unnumberedRows += Math.max(tags(text, "row") - numbered.length, 0);
    const cellRows = [...text.matchAll(CELL_ROW)].map((m) => Number(m[1]));
    this.lastRow = maxOf(this.lastRow, cellRows);
    if (tags(text, "c") > cellRows.length) {
      const widest = maxOf(0, text.split("<row").map((row) => tags(row, "c")));
      this.widestUnnumbered = Math.max(this.widestUnnumbered, widest);
    }
    if (cellRows.length) {
      const columns = new Set([...text.matchAll(CELL_COLUMN)].map((m) => m[1]));
      this.lastColumn = maxOf(this.lastColumn, [...columns].map(columnNumber));
    }
  }

  get rows() {
    return Math.max(this.lastRow + this.unnumberedRows, this.dimension[0]);
  }

  get columns() {
    return Math.max(this.lastColumn + this.widestUnnumbered, this.dimension[1]);
  }
}

function checkUsedRange(file, used, before, limits) {
  if (used.columns > limits.columns) {
    throw new ReadFailure("file/sheet-too-wide", { file, column: letter(used.columns - 1), columns: used.columns, limit: limits.columns });
  }
  if (before + used.rows * used.columns > limits.sheet_cells) {
    const cells = used.rows * used.columns;
    throw new ReadFailure("file/sheet-too-many-cells", { file, rows: used.rows, column: letter(Math.max(used.columns - 1, 0)), cells, limit: limits.sheet_cells });
  }
}

function checkWorkbook(parts, file, limits) {
  let cells = 0;
  let strings = 0;
  for (const bytes of Object.values(parts)) {
    const used = new UsedRange();
    for (let at = 0; at < bytes.length; at += PIECE) {
      const piece = byteText(bytes.subarray(at, at + PIECE));
      used.feed(piece);
      checkUsedRange(file, used, cells, limits);
      strings += tags(plainTags(piece), "si");
      if (strings > limits.sheet_cells) throw new ReadFailure("file/too-many-shared-strings", { file, strings, limit: limits.sheet_cells });
    }
    used.end();
    checkUsedRange(file, used, cells, limits);
    cells += used.rows * used.columns;
  }
}

// ``hideHeader``: a header as a report may carry it (a value that reads as an identifier hidden).
export function readXlsx(bytes, file, limits, hideHeader) {
  let parts;
  let declared = 0;
  let tooLarge = false;
  let bomb = false;
  let typed = false;
  try {
    parts = unzipSync(bytes, {
      filter(entry) {
        // Refused before anything is unzipped, as the CLI refuses it (excel._check_workbook).
        typed ||= entry.name === "[Content_Types].xml";
        declared += entry.originalSize;
        if (declared > limits.decompressed_size) tooLarge = true;
        if (entry.originalSize > 1 << 20 && entry.originalSize > limits.zip_ratio * Math.max(entry.size, 1)) bomb = true;
        return !tooLarge && !bomb;
      },
    });
  } catch {
    throw new ReadFailure("file/workbook-damaged", { file });
  }
  if (!typed) throw new ReadFailure("file/zip-not-workbook", { file });
  if (tooLarge) throw new ReadFailure("file/unzips-too-large", { file, limit: bytesText(limits.decompressed_size) });
  if (bomb) throw new ReadFailure("file/zip-bomb", { file, ratio: limits.zip_ratio });
  checkWorkbook(parts, file, limits);
  const text = (path) => (path in parts ? new TextDecoder("utf-8").decode(parts[path]) : null);
  let book;
  let sheets;
  try {
    const root = relationships(text("_rels/.rels"));
    const office = [...root.values()].find((r) => r.Type?.endsWith("/officeDocument"));
    const workbookPath = office ? partPath("", office.Target) : "xl/workbook.xml";
    const workbook = text(workbookPath);
    if (workbook === null) throw new Error("no workbook");
    const folder = workbookPath.split("/").slice(0, -1).join("/");
    const rels = relationships(text(`${folder}/_rels/${workbookPath.split("/").pop()}.rels`));
    book = { strings: sharedStrings(text(`${folder}/sharedStrings.xml`)), formats: styles(text(`${folder}/styles.xml`)), is1904: false };
    sheets = [];
    for (const e of events(workbook)) {
      if ((e.kind === "start" || e.kind === "empty") && e.name === "workbookPr") {
        const flag = attributes(e.attrs).date1904;
        book.is1904 = flag === "1" || flag === "true";
      } else if ((e.kind === "start" || e.kind === "empty") && e.name === "sheet") {
        const a = attributes(e.attrs);
        const rel = rels.get(a.id);
        sheets.push({ name: a.name, path: rel ? partPath(workbookPath, rel.Target) : null });
      }
    }
  } catch {
    throw new ReadFailure("file/workbook-unreadable", { file });
  }
  return {
    format: "xlsx",
    encoding: null,
    delimiter: null,
    sheets: sheets.map(({ name, path }) => {
      try {
        const xml = path === null ? null : text(path);
        if (xml === null) throw new Error("no sheet");
        return sheetOf(name, sheetCells(book, xml), hideHeader);
      } catch {
        throw new ReadFailure("file/sheet-unreadable", { sheet: name, file });
      }
    }),
  };
}
