// Each sheet read, as a table in DuckDB: `sheet__<n>`, with `__pos` (the record's 0-based position
// among those kept), `__row` (the row a person sees it on) and its values as text, `c0`, `c1`...
// by column, NULL where empty. Everything after the read step (which table a sheet is, the
// declared version, the checks, the values a finding shows) reads these tables, whichever way a
// sheet was read: a plain CSV file by DuckDB's own CSV reader, read_csv.js having scanned it; any
// other file (and every workbook) parsed in JavaScript, then given to DuckDB as Arrow columns.
import { DuckDBDataProtocol } from "@duckdb/duckdb-wasm";
import { Table, Type, Utf8, makeData, makeVector } from "apache-arrow";
import { RUST_BLANKS } from "./blanks.js";

// DuckDB's trim() takes off only spaces, so a column to trim (read_csv.js: some value of the column
// starts or ends with a byte that may be white space) is trimmed of what the CLI takes off
// (blanks.js); any other column has nothing to take off.

export const quoted = (name) => `"${String(name).replaceAll('"', '""')}"`;
export const literal = (text) => `'${String(text).replaceAll("'", "''")}'`;

// DuckDB's reader did not read a plain file as read_csv.js would: it is parsed there instead.
export class NotPlain extends Error {}

// Out of memory in DuckDB (the WebAssembly heap is at most 4 GiB): the file is too large to check
// in a browser, which the page says in a sentence of its own.
export class OutOfMemory extends Error {}

export function isOutOfMemory(error) {
  const text = String(error?.message ?? error);
  return /out of memory|memory access out of bounds|Array buffer allocation failed|allocation failed/i.test(text);
}

async function run(conn, sql) {
  try {
    return await conn.query(sql);
  } catch (error) {
    if (isOutOfMemory(error)) throw new OutOfMemory(String(error?.message ?? error));
    throw error;
  }
}

async function one(conn, sql) {
  return (await run(conn, sql)).toArray()[0].toJSON();
}

// Arrow reads each text value with a decoder that takes a byte-order mark off its start, which the
// CLI keeps in a value (blanks.js): such a value is read again from its bytes.
const keepingMarks = new TextDecoder("utf-8", { ignoreBOM: true });

// A query's result (an Arrow table) as rows, its text as DuckDB holds it.
export function rowsOf(result) {
  const rows = result.toArray().map((r) => r.toJSON());
  result.schema.fields.forEach((field, c) => {
    if (field.type.typeId !== Type.Utf8 && field.type.typeId !== Type.LargeUtf8) return;
    let i = 0;
    for (const data of result.getChildAt(c).data) {
      const { values, valueOffsets } = data;
      for (let k = 0; k < data.length; k++, i++) {
        const start = Number(valueOffsets[k]);
        if (values[start] === 0xef && values[start + 1] === 0xbb && values[start + 2] === 0xbf && data.getValid(k)) {
          rows[i][field.name] = keepingMarks.decode(values.subarray(start, Number(valueOffsets[k + 1])));
        }
      }
    }
  });
  return rows;
}

// Drop what the last check left (its views first, which read the tables), in one statement.
export async function clear(conn) {
  const found = await conn.query(
    "SELECT 'VIEW' AS kind, view_name AS name FROM duckdb_views() WHERE NOT internal AND schema_name = 'main' " +
      "UNION ALL SELECT 'TABLE', table_name FROM duckdb_tables() WHERE NOT internal AND schema_name = 'main' ORDER BY kind DESC",
  );
  const drops = found.toArray().map((r) => `DROP ${r.kind} IF EXISTS ${quoted(r.name)};`);
  if (drops.length) await conn.query(drops.join(" "));
}

// A plain CSV file read by DuckDB: its own bytes when they are UTF-8 (read from the file itself,
// so that no copy is made), else its text as UTF-8 (read_csv.js). The header line is skipped: its
// names were read there. Every value is text, an empty one NULL; a short record is padded.
export async function storePlain(db, conn, id, sheet, file) {
  const { plain } = sheet;
  const name = `upload__${id}.csv`;
  const raw = quoted(`csv__${id}`);
  if (plain.bytes === null) await db.registerFileHandle(name, file, DuckDBDataProtocol.BROWSER_FILEREADER, true);
  else await db.registerFileBuffer(name, plain.bytes);
  plain.bytes = null;
  const width = sheet.headers.length;
  const columns = `{${sheet.headers.map((_, i) => `'c${i}': 'VARCHAR'`).join(", ")}}`;
  try {
    await run(conn, `CREATE TABLE ${raw} AS SELECT * FROM read_csv(${literal(name)}, auto_detect = false, header = false, skip = 1, delim = ${literal(plain.sep)}, quote = '"', escape = '"', columns = ${columns}, null_padding = true)`);
  } catch (error) {
    if (error instanceof OutOfMemory) throw error;
    // Not DuckDB's own message: its CSV errors quote the line they stopped at, a patient's record.
    throw new NotPlain("DuckDB's CSV reader refused it");
  } finally {
    await db.dropFile(name);
  }
  // The reader skips an empty line, which read_csv.js counts as a blank record: the scan let
  // through only those at the end, so the records must be the lines before them.
  const { n } = await one(conn, `SELECT count(*)::INTEGER AS n FROM ${raw}`);
  if (n !== plain.records - plain.trailingBlank) {
    await conn.query(`DROP TABLE IF EXISTS ${raw}`);
    throw new NotPlain(`DuckDB read ${n} records, the scan ${plain.records - plain.trailingBlank}`);
  }
  const value = (i) => (plain.padded[i] ? `nullif(trim(c${i}, ${literal(RUST_BLANKS)}), '')` : `c${i}`);
  const values = Array.from({ length: width }, (_, i) => `${value(i)} AS c${i}`);
  const table = quoted(`sheet__${id}`);
  // The table's row id is the record's place in the file (one thread reads it, in order): its
  // line, as no value spans lines; a blank record (every value blank once trimmed) is skipped.
  if (!plain.maybeBlank) {
    await run(conn, `CREATE VIEW ${table} AS SELECT rowid::INTEGER AS __pos, (rowid + 2)::INTEGER AS __row${values.length ? ", " : ""}${values.join(", ")} FROM ${raw}`);
    return { table, records: n, blankRows: plain.trailingBlank };
  }
  const kept = width ? `WHERE NOT (${Array.from({ length: width }, (_, i) => `c${i} IS NULL`).join(" AND ")})` : "WHERE FALSE";
  await run(
    conn,
    `CREATE TABLE ${table} AS SELECT (row_number() OVER (ORDER BY __line) - 1)::INTEGER AS __pos, (__line + 2)::INTEGER AS __row${width ? ", " : ""}${Array.from({ length: width }, (_, i) => `c${i}`).join(", ")} FROM (SELECT rowid AS __line${values.length ? ", " : ""}${values.join(", ")} FROM ${raw}) AS r ${kept} ORDER BY __line`,
  );
  await conn.query(`DROP TABLE ${raw}`);
  const { records } = await one(conn, `SELECT count(*)::INTEGER AS records FROM ${table}`);
  return { table, records, blankRows: n - records + plain.trailingBlank };
}

// A column of text as Arrow data, made by hand: Arrow's own builders compile code at run time,
// which the page's Content-Security-Policy forbids. ASCII text (the usual) is encoded a column
// at a time, its offsets the values' lengths; other text a value at a time.
const encoder = new TextEncoder();

function textVector(values) {
  const n = values.length;
  const offsets = new Int32Array(n + 1);
  const nulls = new Uint8Array((n + 7) >> 3);
  let nullCount = 0;
  let size = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null) nullCount++;
    else {
      nulls[i >> 3] |= 1 << (i & 7);
      size += v.length;
    }
    offsets[i + 1] = size;
  }
  const joined = values.join("");
  let data = encoder.encode(joined);
  if (data.length !== size) {
    // Not ASCII: a value's bytes are more than its UTF-16 units.
    size = 0;
    const chunks = [];
    for (let i = 0; i < n; i++) {
      if (values[i] !== null) {
        const bytes = encoder.encode(values[i]);
        chunks.push(bytes);
        size += bytes.length;
      }
      offsets[i + 1] = size;
    }
    data = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      data.set(c, at);
      at += c.length;
    }
  }
  return makeVector(makeData({ type: new Utf8(), length: n, nullCount, nullBitmap: nulls, valueOffsets: offsets, data }));
}

// A table of text columns (and whole-number ones, ``extra``) given to DuckDB as Arrow.
export async function insertText(conn, name, names, columns, extra = {}) {
  const vectors = {};
  for (const [column, values] of Object.entries(extra)) vectors[column] = makeVector(Int32Array.from(values));
  names.forEach((column, i) => {
    vectors[column] = textVector(columns[i]);
  });
  await run(conn, `DROP TABLE IF EXISTS ${quoted(name)}`);
  await conn.insertArrowTable(new Table(vectors), { name, create: true });
}

// A sheet parsed in JavaScript (read_csv.js, xlsx.js): its columns go to DuckDB and are let go.
export async function storeParsed(conn, id, sheet) {
  const names = sheet.headers.map((_, i) => `c${i}`);
  const table = `sheet__${id}`;
  if (!sheet.rows.length) {
    const columns = ["CAST(NULL AS INTEGER) AS __pos", "CAST(NULL AS INTEGER) AS __row", ...names.map((c) => `CAST(NULL AS VARCHAR) AS ${c}`)];
    await run(conn, `CREATE TABLE ${quoted(table)} AS SELECT ${columns.join(", ")} WHERE FALSE`);
  } else {
    await insertText(conn, table, names, sheet.columns, { __pos: sheet.rows.map((_, i) => i), __row: sheet.rows });
  }
  return { table: quoted(table), records: sheet.rows.length, blankRows: sheet.blankRows };
}
