// A check of made-up records, run once when the page opens, while the provider picks a file. A
// browser first runs DuckDB's WebAssembly unoptimised and optimises the parts that run most as it
// goes: the first check of a real file then took two to three times as long as the next one
// (benchmarks/bench_browser_validator.py). Nothing of it is shown; a check asked for meanwhile
// waits for it to end.
import { readCsv } from "./read_csv.js";
import { tableParts } from "./intake.js";
import { check } from "./check.js";
import { clear, storePlain } from "./store.js";

const RECORDS = 1000;

// A value of the field's type for record ``i``; a code of its list where it has one.
function valueOf(bundle, field, i) {
  const codes = field.code_list ? bundle.code_lists[field.code_list] : null;
  if (codes?.length) return codes[i % codes.length].code;
  switch (field.type) {
    case "date":
      return `2027-0${1 + (i % 9)}-${String(1 + (i % 28)).padStart(2, "0")}`;
    case "time":
      return `${String(i % 24).padStart(2, "0")}:${String(i % 60).padStart(2, "0")}`;
    case "integer":
      return String(i % 97);
    case "decimal":
      return `${i % 97}.5`;
    case "boolean":
      return i % 2 ? "Y" : "N";
    default:
      return field.name === "spec_version" ? bundle.spec_version : `W${i}`;
  }
}

export async function warmUp(bundle, duck) {
  const table = bundle.tables.find((t) => !t.optional);
  if (!table) return;
  const lines = [table.fields.map((f) => f.name).join(",")];
  for (let i = 0; i < RECORDS; i++) lines.push(table.fields.map((f) => (i % 11 === f.name.length % 11 ? "" : valueOf(bundle, f, i))).join(","));
  const bytes = new TextEncoder().encode(`${lines.join("\n")}\n`);
  const file = new File([bytes], `${table.name}.csv`);
  const read = readCsv(bytes, file.name, {}, bundle.limits);
  const sheet = read.sheets[0];
  if (!sheet.plain) return;
  const stored = await storePlain(duck.db, duck.conn, "warm", sheet, file);
  const source = { name: file.name, format: "csv", sheets: [{ name: null, headers: sheet.headers, ...stored }] };
  await check(duck.conn, bundle, tableParts(bundle, [source], null));
  await clear(duck.conn);
}
