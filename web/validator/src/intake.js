// The read step: which table each file holds and its text under the spec's field names, as the
// CLI's intake does (validate/intake.py), from the bundle's tables, through the provider's profile
// when one is picked (its headers and local codes; its date format is applied in DuckDB).
import { ReadFailure } from "./read_csv.js";

function namedTable(bundle, fileName) {
  const stem = fileName.replace(/\.[^.]*$/, "").toLowerCase();
  const names = bundle.tables.map((t) => t.name).sort((a, b) => b.length - a.length);
  return names.find((name) => stem === name || stem.endsWith(`_${name}`) || stem.endsWith(`-${name}`)) ?? null;
}

function aliasesOf(profile, table) {
  return new Map(Object.entries(profile?.headers?.[table] ?? {}));
}

function tableByHeaders(bundle, headers, profile) {
  const fieldsOf = new Map(bundle.tables.map((t) => [t.name, new Set(t.fields.map((f) => f.name))]));
  let best = null;
  let score = [0, 0];
  for (const table of bundle.tables) {
    const fields = fieldsOf.get(table.name);
    const others = new Set();
    for (const [name, set] of fieldsOf) if (name !== table.name) for (const f of set) others.add(f);
    const aliases = aliasesOf(profile, table.name);
    const found = new Set(headers.map((h) => aliases.get(h) ?? h).filter((h) => fields.has(h)));
    const hits = [[...found].filter((f) => !others.has(f)).length, found.size];
    if (hits[0] > score[0] || (hits[0] === score[0] && hits[1] > score[1])) {
      best = table.name;
      score = hits;
    }
  }
  return score[1] >= 3 ? best : null;
}

function part(bundle, tableName, file, sheet, profile) {
  const table = bundle.tables.find((t) => t.name === tableName);
  const submitted = new Map(table.fields.map((f) => [f.name, f]));
  const aliases = aliasesOf(profile, tableName);
  const named = (h) => aliases.get(h) ?? h;
  const counts = new Map();
  for (const h of sheet.headers) counts.set(named(h), (counts.get(named(h)) ?? 0) + 1);
  const fieldHeaders = {};
  const columnTable = [];
  sheet.headers.forEach((header, position) => {
    const name = named(header);
    const known = submitted.has(name);
    if (known && !(name in fieldHeaders)) fieldHeaders[name] = [position, header];
    columnTable.push({
      column_name: header,
      field_name: known ? name : null,
      mandation: known ? submitted.get(name).mandation : null,
      present: "true",
      occurrences: String(counts.get(name)),
      known: known ? "true" : "false",
    });
  });
  for (const [name, f] of submitted) {
    if (!(name in fieldHeaders) && sheet.headers.length) {
      columnTable.push({ column_name: null, field_name: name, mandation: f.mandation, present: "false", occurrences: "0", known: "true" });
    }
  }
  const empty = sheet.rows.map(() => null);
  const text = {};
  for (const f of table.fields) text[f.name] = f.name in fieldHeaders ? sheet.columns[fieldHeaders[f.name][0]] : empty;
  // Local codes as national ones; a code the map does not know is kept, for the code-list check.
  for (const [field, codes] of Object.entries(profile?.codes ?? {})) {
    if (!(field in fieldHeaders)) continue;
    const local = new Map(Object.entries(codes));
    text[field] = text[field].map((v) => (v !== null && local.has(v) ? local.get(v) : v));
  }
  return { table: tableName, file, headers: sheet.headers, rows: sheet.rows, blankRows: sheet.blankRows, text, fieldHeaders, columnTable };
}

export function tableParts(bundle, sources, profile = null) {
  const parts = [];
  const main = bundle.tables.filter((t) => !t.optional).map((t) => t.name);
  for (const source of sources) {
    for (const sheet of source.sheets) {
      const table = namedTable(bundle, source.name) ?? tableByHeaders(bundle, sheet.headers, profile);
      if (table === null) continue;
      if (parts.some((p) => p.table === table)) throw new ReadFailure("file/table-twice", { table });
      parts.push(part(bundle, table, source.name, sheet, profile));
    }
  }
  if (!parts.length) throw new ReadFailure("file/no-table", { tables: either(main), files: sources.map((s) => s.name).join(", ") });
  const present = new Set(parts.map((p) => p.table));
  for (const p of parts) {
    const table = bundle.tables.find((t) => t.name === p.table);
    if (!table.optional) continue;
    const parents = table.parents.length ? table.parents : main;
    if (!parents.some((t) => present.has(t))) throw new ReadFailure("file/without-parent", { table: table.name, parents: either(parents) });
  }
  return parts;
}

function either(names) {
  return names.length > 1 ? `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}` : names[0];
}
