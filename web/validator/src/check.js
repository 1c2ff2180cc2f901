// The check step: the spec's compiled statements (bundle.json) run in DuckDB over the tables read,
// and the findings assembled as the CLI's report has them (validate/validator.py). Nothing here
// knows a rule: ids, severities, messages and SQL all come from the bundle.
import { trimPython } from "./blanks.js";
import { letter } from "./read_csv.js";
import { makeGuard } from "./guard.js";
import { commonest, countsOf } from "./intake.js";
import { insertText, literal, quoted, rowsOf as rowsOfResult } from "./store.js";

const ORDER = { file_reject: 0, record_reject: 1, warning: 2, info: 3 };
const COLUMN_FIELDS = ["column_name", "field_name", "mandation", "present", "occurrences", "known"];

async function rowsOf(conn, sql) {
  return rowsOfResult(await conn.query(sql));
}

function planFor(bundle, period) {
  if (period === null) return bundle.plan_without_period;
  for (const epoch of bundle.plans) {
    if ((epoch.from === null || epoch.from <= period) && (epoch.to === null || period <= epoch.to)) return epoch.plan;
  }
  return bundle.plan_without_period;
}

// The value most records hold in a field (ties: the lowest), as intake.first_value.
async function firstValue(conn, bundle, parts, field) {
  const tables = parts.filter((p) => bundle.tables.find((t) => t.name === p.table).fields.some((f) => f.name === field));
  return commonest(await countsOf(conn, tables.map((p) => `SELECT ${quoted(field)} AS v FROM ${quoted(`text__${p.table}`)}`)));
}

function periodStart(text) {
  if (text === null || !/^\d{4}-(0[1-9]|1[0-2])$/.test(text)) return null;
  return `${text}-01`;
}

function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

// Each rule's severity after the profile's time-boxed derogations (validator._effective_severities).
function severities(bundle, profile, period) {
  const out = new Map(bundle.rules.map((r) => [r.id, r.severity]));
  const on = period ?? today();
  for (const d of profile?.derogations ?? []) {
    if (out.has(d.rule) && on <= d.until) out.set(d.rule, d.severity);
  }
  return out;
}

// The rules left out because they read a mandatory field with no column in its file: the missing
// column is the finding (evaluation.evaluate's "unchecked").
function uncheckedRules(bundle, parts) {
  const lacking = new Map();
  for (const part of parts) {
    const table = bundle.tables.find((t) => t.name === part.table);
    const present = new Set(part.columnTable.filter((r) => r.present === "true").map((r) => r.field_name));
    lacking.set(part.table, new Set(table.fields.filter((f) => f.mandation === "mandatory" && !present.has(f.name)).map((f) => f.name)));
  }
  const present = new Set(parts.map((p) => p.table));
  const out = new Map();
  for (const rule of bundle.rules) {
    if (rule.scope === "record" && !present.has(rule.table)) continue;
    const needs = rule.reads.filter(([t, f]) => lacking.get(t)?.has(f)).map(([, f]) => f).sort();
    if (needs.length) out.set(rule.id, [...new Set(needs)]);
  }
  return out;
}

export async function check(conn, bundle, parts, profile = null, strict = false) {
  const tables = new Map(bundle.tables.map((t) => [t.name, t]));
  const rules = bundle.rules;
  const byTable = new Map(parts.map((p) => [p.table, p]));
  // Where the time goes, in milliseconds by step (the benchmark reads it; nothing else does).
  const timings = {};
  let at = performance.now();
  const lap = (step) => {
    const now = performance.now();
    timings[step] = Math.round((timings[step] ?? 0) + now - at);
    at = now;
  };
  globalThis.mhdeathsTimings = timings;
  for (const part of parts) {
    await conn.query(part.view);
    await insertText(conn, `columns__${part.table}`, COLUMN_FIELDS, COLUMN_FIELDS.map((c) => part.columnTable.map((r) => r[c])), { __pos: part.columnTable.map((_, i) => i) });
    lap("load");
  }
  const periodText = await firstValue(conn, bundle, parts, "reporting_period");
  const plan = planFor(bundle, periodStart(periodText));
  const unchecked = uncheckedRules(bundle, parts);
  const outcomes = [];
  const measuresOf = new Map();
  for (const table of bundle.tables) {
    const statements = plan.tables[table.name];
    const part = byTable.get(table.name);
    if (!part) {
      if (table.optional) await conn.query(statements.empty);
      continue;
    }
    await conn.query(statements.typed);
    lap("typed");
    await conn.query(statements.fails);
    lap("fails");
    const [found] = await rowsOf(conn, statements.findings);
    const checked = rules.filter((r) => r.table === table.name && r.scope === "record" && !unchecked.has(r.id));
    const failing = checked.filter((r) => Number(found[`${r.id}:failed`]));
    // The first rows of every rule that failed, in one statement.
    const listed = new Map(failing.map((r) => [r.id, []]));
    if (failing.length) {
      const each = failing.map((r) => `SELECT ${literal(r.id)} AS __rule, __pos, __row FROM (${statements.rows[r.id]}) AS r`);
      const first = await rowsOf(conn, each.join(" UNION ALL "));
      first.sort((a, b) => a.__pos - b.__pos);
      for (const r of first) listed.get(r.__rule).push(Number(r.__row));
    }
    const values = await shownValues(conn, bundle, part, failing, listed);
    for (const rule of checked) {
      const rows = listed.get(rule.id) ?? [];
      outcomes.push({ rule, failed: Number(found[`${rule.id}:failed`]), rows, values: values.get(rule.fields[0]) ?? null });
    }
    lap("findings");
    const [m] = await rowsOf(conn, statements.measures);
    lap("measures");
    const present = new Set(part.columnTable.filter((r) => r.present === "true").map((r) => r.field_name));
    measuresOf.set(table.name, []);
    for (const f of table.fields) {
      measuresOf.get(table.name).push({ table: table.name, field: f, records: Number(m.__records), present: present.has(f.name), filled: Number(m[`${f.name}:filled`]), valid: Number(m[`${f.name}:valid`]), defaults: Number(m[`${f.name}:defaults`]) });
    }
  }
  // Each table's structure rules together, and its table rules together.
  const structureRows = new Map();
  const tableVerdicts = {};
  for (const part of parts) {
    const statements = plan.tables[part.table];
    if (statements.structure) {
      for (const r of await rowsOf(conn, statements.structure)) {
        if (!structureRows.has(r.__rule)) structureRows.set(r.__rule, []);
        structureRows.get(r.__rule).push(Number(r.__pos));
      }
    }
    if (statements.table_rules) Object.assign(tableVerdicts, ...(await rowsOf(conn, statements.table_rules)));
  }
  for (const rule of rules) {
    if (rule.scope === "record" || unchecked.has(rule.id)) continue;
    if (rule.scope === "structure") {
      if (!byTable.has(rule.table)) continue;
      const rows = structureRows.get(rule.id) ?? [];
      outcomes.push({ rule, failed: rows.length, rows });
    } else if (rule.scope === "table") {
      if (!byTable.has(rule.table)) continue;
      outcomes.push({ rule, failed: tableVerdicts[rule.id] === true ? 1 : 0, rows: [] });
    } else {
      const available = rule.tables_read.every((t) => byTable.has(t) || tables.get(t)?.optional);
      if (!available) continue;
      const groups = await rowsOf(conn, plan.cross_table[rule.id]);
      outcomes.push({ rule, failed: groups.length, rows: [], groups: groups.slice(0, bundle.sample) });
    }
  }
  lap("other rules");
  // Measures and outcomes of record rules in the order the files were given, as the CLI has them.
  const measures = parts.flatMap((p) => measuresOf.get(p.table));
  const order = new Map(parts.map((p, i) => [p.table, i]));
  const records = outcomes.filter((o) => o.rule.scope === "record").sort((a, b) => order.get(a.rule.table) - order.get(b.rule.table));
  const others = outcomes.filter((o) => o.rule.scope !== "record");
  const severity = severities(bundle, profile, periodStart(periodText));
  const guard = makeGuard(bundle);
  const context = { profile, severity, unchecked, strict, guard, provider: await firstValue(conn, bundle, parts, "org_id_provider") };
  return report(bundle, parts, [...records, ...others], measures, periodText, context);
}

// The field of that name in the table, else in any table (intake.field_of).
function fieldOf(bundle, table, name) {
  const tables = [...bundle.tables].sort((a, b) => (a.name !== table) - (b.name !== table));
  for (const t of tables) {
    const f = t.fields.find((f) => f.name === name);
    if (f) return f;
  }
  return null;
}

function report(bundle, parts, outcomes, measures, periodText, context) {
  const { profile, severity, unchecked, strict, guard } = context;
  const byTable = new Map(parts.map((p) => [p.table, p]));
  const failed = outcomes.filter(
    (o) =>
      o.failed &&
      !(["mandatory", "required"].includes(o.rule.generated_from) && byTable.has(o.rule.table) && !(o.rule.fields[0] in byTable.get(o.rule.table).fieldHeaders)),
  );
  const level = (o) => severity.get(o.rule.id);
  failed.sort((a, b) => ORDER[level(a)] - ORDER[level(b)] || cmp(a.rule.table, b.rule.table) || cmp(a.rule.id, b.rule.id));
  const findings = [];
  const summaries = [];
  for (const o of failed) {
    const shown = findingsOf(bundle, o, byTable, level(o), guard);
    findings.push(...shown);
    let derogation = null;
    if (profile && level(o) !== o.rule.severity) {
      const d = profile.derogations.find((d) => d.rule === o.rule.id);
      // The provider's own words, through the guard, as the CLI's report model passes them.
      derogation = guard.message(`${trimPython(d.reason)} (until ${d.until})`);
    }
    summaries.push({ rule_id: o.rule.id, severity: level(o), spec_severity: o.rule.severity, table: o.rule.table, title: o.rule.title, failed: o.failed, shown: shown.length, truncated: o.failed > shown.length, derogation });
  }
  const counts = { file_reject: 0, record_reject: 0, warning: 0, info: 0 };
  for (const s of summaries) counts[s.severity] += s.failed;
  const verdict = counts.file_reject || counts.record_reject || (strict && counts.warning) ? "rejected" : counts.warning ? "accepted with warnings" : "accepted";
  // The notes, as validator._report words them (a sentence goes through the guard, as there).
  const notes = [];
  if (summaries.some((s) => s.truncated)) {
    notes.push(`Some rules failed on more records than are listed: each rule lists at most ${bundle.sample} findings, and its count is always complete.`);
  }
  const first = parts[0].table;
  const provider = guard.value(context.provider, fieldOf(bundle, first, "org_id_provider"));
  if (profile && provider !== null && provider !== profile.provider) {
    notes.push(`The profile of ${profile.provider} was applied, but the records are from ${provider}.`);
  }
  if (unchecked.size) {
    const needs = [...new Set([...unchecked.values()].flat())].sort();
    notes.push(`${unchecked.size} rule(s) were not checked: they read mandatory fields with no column in the file (${needs.join(", ")}), which are reported once each.`);
  }
  for (const p of parts) {
    if (p.blankRows) notes.push(`${guard.name(p.file)}: ${p.blankRows} blank row(s) were skipped.`);
  }
  const fields = measures.map((m) => ({
    table: m.table,
    field: m.field.name,
    title: m.field.title,
    mandation: m.field.mandation,
    coverage: m.present ? 100.0 : 0.0,
    completeness: share(m.filled, m.records) ?? 0.0,
    validity: share(m.valid, m.filled),
    default_code_use: m.field.code_list ? share(m.defaults, m.filled) : null,
  }));
  return {
    spec_version: bundle.spec_version,
    profile: profile ? profile.provider : null,
    rules_checked: bundle.rules.filter((r) => byTable.has(r.table) && !unchecked.has(r.id)).length,
    provider,
    reporting_period: guard.value(periodText, fieldOf(bundle, first, "reporting_period")),
    verdict,
    strict,
    counts,
    tables: parts.map((p) => ({ name: p.table, file: guard.name(p.file), records: p.records, blank_rows: p.blankRows, columns: p.headers.length })),
    rules: summaries,
    findings,
    fields,
    truncated: summaries.some((s) => s.truncated),
    sample_limit: bundle.sample,
    notes: notes.map((n) => guard.message(n)),
  };
}

function share(part, whole) {
  return whole ? Math.round((10000 * part) / whole) / 100 : null;
}

function cmp(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

function findingsOf(bundle, outcome, byTable, severity, guard) {
  const rule = outcome.rule;
  let part = byTable.get(rule.table);
  if (!part && rule.scope === "cross_table") part = [...rule.tables_read].sort().map((t) => byTable.get(t)).find(Boolean);
  if (!part) return [];
  const base = { rule_id: rule.id, severity, table: rule.table, file: guard.name(part.file), message: rule.message, fix: rule.fix };
  if (rule.scope === "structure") {
    return outcome.rows.map((pos) => {
      const record = part.columnTable[pos];
      const header = record.column_name;
      return { ...base, row: header !== null ? part.headerRow : null, column: record.present === "true" ? letter(pos + part.firstColumn) : null, header: guard.name(header), field: record.field_name, group: null, value: null, example: record.field_name };
    });
  }
  if (rule.scope === "cross_table") {
    // A group's values as Python's str() wrote them (None for a missing one), through the guard.
    return outcome.groups.map((g) => ({
      ...base,
      row: null,
      column: null,
      header: null,
      field: rule.fields[0] ?? null,
      group: rule.group_by.map((f) => guard.value(g[f] === null ? "None" : String(g[f]), fieldOf(bundle, rule.table, f)) ?? ""),
      value: guard.message(g.detail ?? null),
      example: rule.example,
    }));
  }
  const name = rule.fields[0] ?? null;
  const [position, found] = name && part.fieldHeaders[name] ? part.fieldHeaders[name] : [null, null];
  const header = guard.name(found);
  const column = position === null ? null : letter(position + part.firstColumn);
  if (rule.scope === "table") return [{ ...base, row: null, column, header, field: name, group: null, value: null, example: rule.example }];
  // The value found, only for a code field (guard.is_code), and only as the guard shows it.
  const field = bundle.tables.find((t) => t.name === rule.table).fields.find((f) => f.name === name);
  const values = outcome.values;
  return outcome.rows.map((row) => ({ ...base, row, column, header, field: name, group: null, value: values ? guard.value(values.get(row) ?? null, field) : null, example: rule.example }));
}

// The values of each code field (one a finding may show) on the rows listed of the rules that
// read it, by field and then by row, in one statement.
async function shownValues(conn, bundle, part, failing, listed) {
  const table = bundle.tables.find((t) => t.name === part.table);
  const wanted = new Map();
  for (const rule of failing) {
    const field = table.fields.find((f) => f.name === rule.fields[0]);
    if (!field?.shown) continue;
    if (!wanted.has(field.name)) wanted.set(field.name, new Set());
    for (const row of listed.get(rule.id)) wanted.get(field.name).add(row);
  }
  const out = new Map();
  const rows = new Set([...wanted.values()].flatMap((set) => [...set]));
  if (!rows.size) return out;
  const names = [...wanted.keys()];
  const found = await rowsOf(conn, `SELECT __row, ${names.map((n, i) => `${quoted(n)} AS v${i}`).join(", ")} FROM ${quoted(`text__${part.table}`)} WHERE __row IN (SELECT unnest([${[...rows].join(", ")}]))`);
  names.forEach((n, i) => out.set(n, new Map(found.map((r) => [Number(r.__row), r[`v${i}`]]))));
  return out;
}
