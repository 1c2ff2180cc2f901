// A provider's profile (validators/<ODS>.yaml), read in the page as the CLI reads it
// (validate/profiles.py): YAML read as PyYAML reads it, then checked against the profile's own
// schema, which the bundle carries (the Profile model's JSON Schema), so no setting is listed here.
//
// The page reads the YAML the trust already keeps and reviews, rather than a JSON form of it: a
// JSON form would need `mhdeaths` installed to write, and the page is for desktops where it is not.
import { parseDocument } from "yaml";
import { format } from "./words.js";

export class ProfileFailure extends Error {}

// The keys of a profile's mapping in the order the file gives them, as a Python dict keeps them (a
// JavaScript object lists keys that read as numbers, local codes such as "1", first).
const KEYS = Symbol("keys");

export function entries(mapping) {
  if (!mapping) return [];
  return (mapping[KEYS] ?? Object.keys(mapping)).map((key) => [key, mapping[key]]);
}

// PyYAML reads YAML 1.1 but takes as booleans only these words, not y/n: `{NEW: N}` is a code.
const BOOL = "tag:yaml.org,2002:bool";
const pyYamlBooleans = [
  { identify: (v) => v === true, default: true, tag: BOOL, test: /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/, resolve: () => true },
  { identify: (v) => v === false, default: true, tag: BOOL, test: /^(?:no|No|NO|false|False|FALSE|off|Off|OFF)$/, resolve: () => false },
];

function say(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, name) => String(values[name]));
}

// The pydantic messages a person meets most; any other problem gets the nearest of them.
function typeName(type) {
  return { string: "string", object: "dictionary", array: "list", null: "null" }[type] ?? type;
}

class Invalid extends Error {
  constructor(where, problem) {
    super(problem);
    this.where = where;
    this.problem = problem;
  }
}

function resolve(schema, defs) {
  while (schema && schema.$ref) schema = defs[schema.$ref.replace("#/$defs/", "")];
  return schema;
}

function isDate(text) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return false;
  const d = new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === text;
}

// The value as the schema allows it (a Map as an object, a date as CCYY-MM-DD), else Invalid
// naming where, as pydantic's location does.
function conform(value, schema, defs, where) {
  schema = resolve(schema, defs);
  if (schema.anyOf) {
    let first = null;
    for (const option of schema.anyOf) {
      try {
        return conform(value, option, defs, where);
      } catch (error) {
        if (!(error instanceof Invalid)) throw error;
        first ??= error;
      }
    }
    throw first;
  }
  if (schema.enum) {
    if (!schema.enum.includes(value)) {
      const listed = schema.enum.map((v) => `'${v}'`);
      throw new Invalid(where, `Input should be ${listed.slice(0, -1).join(", ")} or ${listed[listed.length - 1]}`);
    }
    return value;
  }
  switch (schema.type) {
    case "null":
      if (value !== null) throw new Invalid(where, "Input should be None");
      return null;
    case "string":
      if (schema.format === "date") {
        if (value instanceof Date && !Number.isNaN(value.getTime())) return value.toISOString().slice(0, 10);
        if (typeof value === "string" && isDate(value)) return value;
        throw new Invalid(where, "Input should be a valid date");
      }
      if (typeof value !== "string") throw new Invalid(where, "Input should be a valid string");
      return value;
    case "array": {
      if (!Array.isArray(value)) throw new Invalid(where, `Input should be a valid ${typeName("array")}`);
      return value.map((item, i) => conform(item, schema.items, defs, [...where, i]));
    }
    case "object": {
      if (!(value instanceof Map)) {
        const title = schema.title && schema.properties ? ` or instance of ${schema.title}` : "";
        throw new Invalid(where, `Input should be a valid dictionary${title}`);
      }
      const out = {};
      if (schema.properties) {
        for (const [name, property] of Object.entries(schema.properties)) {
          if (value.has(name)) out[name] = conform(value.get(name), property, defs, [...where, name]);
          else if ((schema.required ?? []).includes(name)) throw new Invalid([...where, name], "Field required");
          else out[name] = structuredClone(property.default ?? null);
        }
        for (const key of value.keys()) {
          if (!(key in schema.properties) && schema.additionalProperties === false) {
            throw new Invalid([...where, String(key)], "Extra inputs are not permitted");
          }
        }
        return out;
      }
      for (const [key, item] of value) {
        if (typeof key !== "string") throw new Invalid([...where, String(key), "[key]"], "Input should be a valid string");
        out[key] = conform(item, schema.additionalProperties, defs, [...where, key]);
      }
      Object.defineProperty(out, KEYS, { value: [...new Set(value.keys())] });
      return out;
    }
    default:
      return value;
  }
}

// The profile in a file the user picked: its settings, or a ProfileFailure with the CLI's sentence.
export function readProfile(bytes, fileName, bundle) {
  const { schema, sentences } = bundle.profile;
  const path = fileName;
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ProfileFailure(say(sentences.not_yaml, { path }));
  }
  const doc = parseDocument(text, {
    version: "1.1",
    customTags: (tags) => [...tags.filter((t) => t.tag !== BOOL), ...pyYamlBooleans],
    uniqueKeys: false,
  });
  if (doc.errors.length) throw new ProfileFailure(say(sentences.not_yaml, { path }));
  const data = doc.toJS({ mapAsMap: true });
  if (!(data instanceof Map)) throw new ProfileFailure(say(sentences.not_mapping, { path }));
  try {
    return conform(data, schema, schema.$defs ?? {}, []);
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    throw new ProfileFailure(say(sentences.not_valid, { path, where: error.where.join("."), problem: error.problem }));
  }
}

// Refuse a profile that does not fit this page's spec version, as the CLI does before it reads a
// table (profiles.require_fit): the first problem `mhdeaths profile check` would list, and how
// many more. The checks follow profiles.check_profile; their words are the bundle's.
export async function checkFit(bundle, profile, conn) {
  const words = bundle.profile.fit_problems;
  const version = bundle.spec_version;
  const problems = [];
  const tables = new Map(bundle.tables.map((t) => [t.name, t]));
  for (const [table, mapping] of entries(profile.headers)) {
    if (!tables.has(table)) {
      problems.push(format(words.table, { table, version }));
      continue;
    }
    const submitted = new Set(tables.get(table).fields.map((f) => f.name));
    const targets = entries(mapping).map(([, field]) => field);
    for (const [header, field] of entries(mapping)) {
      if (!submitted.has(field)) problems.push(format(words.header, { table, header, field }));
    }
    const twice = targets.filter((t) => targets.filter((u) => u === t).length > 1);
    for (const field of new Set(twice)) problems.push(format(words.header_twice, { table, field }));
  }
  for (const [sheet, table] of entries(profile.sheets)) {
    if (!tables.has(table)) problems.push(format(words.sheet, { sheet, table, version }));
  }
  const coded = bundle.profile.coded_fields;
  for (const [field, mapping] of entries(profile.codes)) {
    const codeList = Object.hasOwn(coded, field) ? coded[field] : null;
    if (codeList === null) {
      problems.push(format(words.coded, { field, version }));
      continue;
    }
    const valid = new Set(bundle.code_lists[codeList].map((c) => c.code));
    for (const [local, code] of entries(mapping)) {
      if (!valid.has(code)) problems.push(format(words.code, { field, local, code, code_list: codeList }));
    }
  }
  const ids = new Set(bundle.rules.map((r) => r.id));
  for (const d of profile.derogations ?? []) {
    if (!ids.has(d.rule)) problems.push(format(words.rule, { rule: d.rule, version }));
  }
  if (profile.date_format && !(await readsBack(conn, profile.date_format))) {
    problems.push(format(words.date_format, { date_format: profile.date_format }));
  }
  if (!problems.length) return;
  const { not_fit: sentence, not_fit_more: more } = bundle.profile.sentences;
  const rest = problems.length > 1 ? format(more, { more: problems.length - 1 }) : "";
  throw new ProfileFailure(format(sentence, { provider: profile.provider, version, problem: problems[0], more: rest }));
}

// Whether a date format reads back a date it wrote, in DuckDB, which applies the format to the
// records (check.js): strftime and strptime take the same directives as Python's.
async function readsBack(conn, dateFormat) {
  const quoted = `'${dateFormat.replaceAll("'", "''")}'`;
  try {
    const result = await conn.query(`SELECT strptime(strftime(DATE '2027-04-12', ${quoted}), ${quoted}) IS NOT NULL AS ok`);
    return result.toArray()[0].ok === true;
  } catch {
    return false;
  }
}
