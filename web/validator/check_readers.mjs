// The page's two CSV readers read a file alike (tests/functional/test_validator_page.py): for
// each file given, read_csv.js's own parser, and, where its scan finds the file plain, DuckDB's
// reader as store.js runs it (here in Node, DuckDB's blocking build). Not part of the page.
//
//   node check_readers.mjs CASES.json   (a list of files, each base64)  -> a JSON summary
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readCsv } from "./src/read_csv.js";
import { clear, rowsOf, storePlain, NotPlain } from "./src/store.js";

const require = createRequire(import.meta.url);
const duckdb = require("@duckdb/duckdb-wasm/blocking");
const dist = join(dirname(fileURLToPath(import.meta.url)), "node_modules", "@duckdb", "duckdb-wasm", "dist");
const LIMITS = { line_length: 1 << 20, columns: 1000, cells: 100_000_000 };

const db = await duckdb.createDuckDB(
  { mvp: { mainModule: join(dist, "duckdb-mvp.wasm"), mainWorker: "" }, eh: { mainModule: join(dist, "duckdb-eh.wasm"), mainWorker: "" } },
  new duckdb.VoidLogger(),
  duckdb.NODE_RUNTIME,
);
await db.instantiate();
const conn = db.connect();
conn.query("SET disabled_optimizers = 'in_clause'");

function parsed(bytes) {
  try {
    const { sheets } = readCsv(bytes, "f.csv", {}, LIMITS, { parsed: true });
    const [s] = sheets;
    return { headers: s.headers, rows: s.rows, values: s.rows.map((_, i) => s.columns.map((c) => c[i])), blankRows: s.blankRows };
  } catch (error) {
    return { refused: error.id ?? String(error) };
  }
}

const cases = JSON.parse(readFileSync(process.argv[2], "utf8")).map((b) => new Uint8Array(Buffer.from(b, "base64")));
const summary = { plain: 0, notPlain: 0, fellBack: 0, differ: [] };
for (const [n, bytes] of cases.entries()) {
  const expected = parsed(bytes.slice());
  let read;
  try {
    read = readCsv(bytes.slice(), "f.csv", {}, LIMITS);
  } catch (error) {
    // Refused before or at the scan: the same refusal as the parser's.
    if (expected.refused !== (error.id ?? String(error))) summary.differ.push({ n, expected, found: { refused: error.id ?? String(error) } });
    continue;
  }
  const [sheet] = read.sheets;
  if (!sheet.plain) {
    summary.notPlain++;
    continue;
  }
  summary.plain++;
  sheet.plain.bytes ??= bytes.slice();
  let found;
  try {
    const stored = await storePlain(db, conn, n, sheet, null);
    const table = rowsOf(conn.query(`SELECT * FROM ${stored.table} ORDER BY __pos`));
    found = {
      headers: sheet.headers,
      rows: table.map((r) => r.__row),
      values: table.map((r) => sheet.headers.map((_, c) => r[`c${c}`])),
      blankRows: stored.blankRows,
    };
  } catch (error) {
    if (!(error instanceof NotPlain)) throw error;
    summary.fellBack++;
    continue;
  } finally {
    await clear(conn);
  }
  if (JSON.stringify(found) !== JSON.stringify(expected)) summary.differ.push({ n, expected, found });
}
console.log(JSON.stringify(summary));
