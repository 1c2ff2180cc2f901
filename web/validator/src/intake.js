// The read step: which table each file holds and its text under the spec's field names, as the
// CLI's intake does (validate/intake.py), from the bundle's tables, through the provider's profile
// when one is picked (its headers, local codes and date format). A sheet's values are in DuckDB
// (store.js): a table's text is a view over its sheet, `text__<table>`, made here.
import { trimPython } from "./blanks.js";
import { ReadFailure } from "./read_csv.js";
import { entries } from "./profile.js";
import { literal, quoted, rowsOf } from "./store.js";

// A sheet name as intake._sheet_key compares it: case, spaces and punctuation aside.
function sheetKey(text) {
  return [...text.toUpperCase().toLowerCase()].filter((c) => /[\p{L}\p{N}]/u.test(c)).join("");
}

// A sheet name as intake._named_table compares it: stripped as Python strips (blanks.js), casefolded.
function folded(text) {
  return trimPython(text).toUpperCase().toLowerCase();
}

// The table a sheet's name, or its file's name, says it holds (intake._named_table): a sheet name
// the profile maps, else the table's name in one of its common forms (the bundle lists them).
function namedTable(bundle, fileName, sheet, profile, several) {
  const names = new Set(bundle.tables.map((t) => t.name));
  if (sheet.name) {
    const given = folded(sheet.name);
    let mapped = null; // a sheet the profile names twice: the later one, as a dict keeps it
    for (const [name, table] of entries(profile?.sheets)) if (folded(name) === given) mapped = table;
    if (mapped !== null && names.has(mapped)) return mapped;
    const key = sheetKey(sheet.name);
    const found = bundle.tables.find((t) => t.sheet_names.includes(key));
    if (found) return found.name;
  }
  if (several) return null;
  const stem = fileName.replace(/\.[^.]*$/, "").toLowerCase();
  const longestFirst = [...names].sort((a, b) => b.length - a.length);
  return longestFirst.find((name) => stem === name || stem.endsWith(`_${name}`) || stem.endsWith(`-${name}`)) ?? null;
}

function aliasesOf(profile, table) {
  return new Map(entries(profile?.headers?.[table]));
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

// A typed Excel date comes back as 'CCYY-MM-DD 00:00:00': keep its date (intake._normalise_excel_dates).
const EXCEL_MIDNIGHT = "'^([0-9]{4}-[0-9]{2}-[0-9]{2})[ T]00:00:00([.]0+)?$'";

// A field's text from its column: a workbook's midnight dropped from a date; a local code as the
// national one (a code the map does not know is kept, for the code-list check); a date in the
// profile's format rewritten as CCYY-MM-DD, one not in that format left for the type check to
// report (profiles.apply_profile).
function textOf(field, column, format, profile) {
  let text = column;
  if ((format === "xlsx" || format === "xls") && field.type === "date") text = `regexp_replace(${text}, ${EXCEL_MIDNIGHT}, '\\1')`;
  const codes = profile?.codes ?? {};
  if (Object.hasOwn(codes, field.name)) {
    const local = Object.entries(codes[field.name]);
    if (local.length) text = `(CASE ${text} ${local.map(([from, to]) => `WHEN ${literal(from)} THEN ${literal(to)}`).join(" ")} ELSE ${text} END)`;
  } else if (profile?.date_format && field.type === "date") {
    const format = literal(profile.date_format);
    text = `coalesce(strftime(try_strptime(${text}, ${format}), '%Y-%m-%d'), ${text})`;
  }
  return text;
}

function part(bundle, tableName, file, sheet, profile, format = "csv") {
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
  const texts = table.fields.map((f) => {
    const text = f.name in fieldHeaders ? textOf(f, `c${fieldHeaders[f.name][0]}`, format, profile) : "CAST(NULL AS VARCHAR)";
    return `${text} AS ${quoted(f.name)}`;
  });
  const view = `CREATE OR REPLACE VIEW ${quoted(`text__${tableName}`)} AS SELECT __pos, __row, ${texts.join(", ")} FROM ${sheet.table}`;
  // Where the sheet sits (xlsx.sheetOf): a CSV's header is line 1, its first column A.
  const place = { headerRow: sheet.headerRow ?? 1, firstColumn: sheet.firstColumn ?? 0 };
  return { table: tableName, file, headers: sheet.headers, records: sheet.records, blankRows: sheet.blankRows, view, fieldHeaders, columnTable, ...place };
}

// The national feed a sheet is shaped as, when it fits one better than the table its headers
// picked (intake._feed_of): by its sheet name, or, for a file of one table, by the share of its
// headers that are a feed's fields, then the share of the feed's fields found.
function feedOf(bundle, sheet, profile, chosen, several) {
  const shapes = bundle.feeds.shapes;
  const named = trimPython(sheet.name ?? "").toLowerCase();
  for (const [feed, table] of shapes) if (named === table) return feed;
  const headers = new Set(sheet.headers);
  if (several || !headers.size) return null;
  const fit = (fields) => {
    const found = fields.filter((f) => headers.has(f)).length;
    return [found / headers.size, fields.length ? found / fields.length : 0];
  };
  const above = (a, b) => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);
  let best = null;
  let score = [0, 0];
  for (const [feed, , fields] of shapes) {
    const found = fields.filter((f) => headers.has(f)).length;
    if (found >= 3 && above(fit(fields), score)) {
      best = feed;
      score = fit(fields);
    }
  }
  if (best === null || chosen === null) return best;
  const aliases = aliasesOf(profile, chosen);
  const mapped = new Set([...headers].map((h) => aliases.get(h) ?? h));
  const ours = bundle.tables.find((t) => t.name === chosen).fields.map((f) => f.name);
  const shared = ours.filter((f) => mapped.has(f)).length;
  return above(score, [shared / mapped.size, shared / ours.length]) ? best : null;
}

export function tableParts(bundle, sources, profile = null) {
  const parts = [];
  const main = bundle.tables.filter((t) => !t.optional).map((t) => t.name);
  for (const source of sources) {
    const several = source.sheets.length > 1;
    for (const sheet of source.sheets) {
      const named = namedTable(bundle, source.name, sheet, profile, several);
      const table = named ?? (several ? null : tableByHeaders(bundle, sheet.headers, profile));
      // A feed in a submission, even beside its real files, refuses it, as the CLI does.
      const feed = named !== null ? null : feedOf(bundle, sheet, profile, table, several);
      if (feed !== null) throw new ReadFailure("file/no-table", { tables: either(main), files: source.name, feed }, bundle.feeds.sentence);
      if (table === null) continue;
      if (parts.some((p) => p.table === table)) throw new ReadFailure("file/table-twice", { table });
      parts.push(part(bundle, table, source.name, sheet, profile, source.format));
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

// How many records give each value of a field, under its own name or a profile's header
// (intake._values_given), read from the sheets as found.
async function valuesGiven(conn, sources, profile, field) {
  const aliases = new Set([field]);
  for (const mapping of Object.values(profile?.headers ?? {})) {
    for (const [header, name] of Object.entries(mapping)) if (name === field) aliases.add(header);
  }
  const selects = [];
  for (const source of sources) {
    for (const sheet of source.sheets) {
      sheet.headers.forEach((header, c) => {
        if (aliases.has(header)) selects.push(`SELECT c${c} AS v FROM ${sheet.table}`);
      });
    }
  }
  return countsOf(conn, selects);
}

// Each value the queries give, with how many times (NULL left out).
export async function countsOf(conn, selects) {
  const counts = new Map();
  if (!selects.length) return counts;
  const result = await conn.query(`SELECT v, count(*)::INTEGER AS n FROM (${selects.join(" UNION ALL ")}) AS u WHERE v IS NOT NULL GROUP BY v`);
  for (const row of rowsOf(result)) counts.set(row.v, row.n);
  return counts;
}

// The value most records give (ties: the lowest), or null.
export function commonest(counts) {
  let best = null;
  for (const [v, n] of counts) {
    if (best === null || n > counts.get(best) || (n === counts.get(best) && v < best)) best = v;
  }
  return best;
}

function versionShown(bundle, declared, guard) {
  const known = bundle.versions.map((v) => v.version);
  if (declared === null || known.includes(declared)) return declared;
  const { pattern, longest } = bundle.version_shown;
  if (pattern && new RegExp(`^(?:${pattern})$`, "u").test(declared) && [...declared].length <= longest) {
    return guard.looksIdentifying(declared) ? guard.withheld : declared;
  }
  return guard.withheld;
}

// The spec version the files are written to, checked as the CLI's read step does
// (intake._declared_version, _check_accepted): a version this page does not check is refused with
// the page's own sentence, naming the page to open. Returns the version declared as a report
// shows it.
export async function checkVersion(bundle, conn, sources, profile, guard) {
  const known = bundle.versions.map((v) => v.version);
  const declared = commonest(await valuesGiven(conn, sources, profile, "spec_version"));
  if (declared !== null && !known.includes(declared)) {
    throw new ReadFailure("file/unknown-spec-version", { declared: versionShown(bundle, declared, guard), known: known.join(", ") });
  }
  if (declared !== null) {
    const periods = new Map([...(await valuesGiven(conn, sources, profile, "reporting_period"))].filter(([p]) => /^\d{4}-(0[1-9]|1[0-2])$/.test(p)));
    const period = commonest(periods);
    const inForce = bundle.versions.filter((v) => !v.draft && v.effective_from <= period);
    if (period !== null && inForce.length) {
      const current = inForce[inForce.length - 1];
      const later = known.indexOf(declared) >= known.indexOf(current.version);
      if (!later && !current.accepts_previous.includes(declared)) {
        throw new ReadFailure("file/version-not-accepted", {
          declared,
          period,
          current: current.version,
          effective: current.effective_from,
          accepted: [current.version, ...current.accepts_previous].join(", "),
        });
      }
    }
  }
  const chosen = declared ?? profile?.spec_version ?? null;
  if (chosen !== null && chosen !== bundle.spec_version) {
    throw new ReadFailure("page/other-version", { declared: chosen, page: bundle.spec_version });
  }
  return declared;
}
