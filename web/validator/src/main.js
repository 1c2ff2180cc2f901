// The page: load the spec's bundle and DuckDB (both from this folder, nothing from elsewhere),
// read the files the user picks inside the browser, check them, show the report. The file never
// leaves the machine: the page makes no request but for its own files.
import * as duckdb from "@duckdb/duckdb-wasm";
import { trimPython } from "./blanks.js";
import { readCsv, ReadFailure, bytesText } from "./read_csv.js";
import { readXlsx } from "./xlsx.js";
import { tableParts, checkVersion } from "./intake.js";
import { clear, storePlain, storeParsed, NotPlain, OutOfMemory, isOutOfMemory } from "./store.js";
import { check } from "./check.js";
import { readProfile, checkFit, ProfileFailure } from "./profile.js";
import { makeGuard } from "./guard.js";
import { format } from "./words.js";
import { filesOf, reportBody, reportDocument } from "./report.js";
import { warmUp } from "./warm.js";

/* global REPORT_STYLE */ // the CLI report's own style, put in by build.mjs

const BUNDLE_FORMAT = 1;
const $ = (id) => document.getElementById(id);

function state(value) {
  document.body.dataset.state = value;
}

function sentence(bundle, failure) {
  const template = failure.template ?? (failure.id === "page/other-version" ? bundle.sentences.other_version : bundle.read_failures[failure.id] ?? "{file} cannot be read.");
  return format(template, failure.values);
}

async function startDuckDB() {
  const here = new URL(".", document.baseURI).href;
  const bundles = {
    mvp: { mainModule: `${here}duckdb-mvp.wasm`, mainWorker: `${here}duckdb-browser-mvp.worker.js` },
    eh: { mainModule: `${here}duckdb-eh.wasm`, mainWorker: `${here}duckdb-browser-eh.worker.js` },
  };
  const chosen = await duckdb.selectBundle(bundles);
  const worker = new Worker(chosen.mainWorker);
  const db = new duckdb.AsyncDuckDB(new duckdb.VoidLogger(), worker);
  await db.instantiate(chosen.mainModule);
  const conn = await db.connect();
  // Never fetch an extension: the page may reach nothing but its own folder.
  await conn.query("SET autoinstall_known_extensions = false; SET autoload_known_extensions = false");
  // A code list's IN (...) is tested as it stands, not rewritten into a join: the rewrite made
  // the verdicts' plan some thirty joins, which cost more to plan and run than the tests.
  await conn.query("SET disabled_optimizers = 'in_clause'");
  return { db, conn };
}

// A report's file name: the provider and period when the records give them plainly.
function reportStem(report) {
  const plain = /^[A-Za-z0-9]{3,10}$/.test(report.provider ?? "") && /^\d{4}-\d{2}$/.test(report.reporting_period ?? "");
  return plain ? `${report.provider}_${report.reporting_period}` : "submission";
}

// The findings as the CLI's findings.csv (render.to_csv): its columns, a group joined by " / ", a
// cell a spreadsheet would run as a formula written as text, quoted as Python's csv module quotes,
// lines ended CRLF, and a byte-order mark so that Excel reads it as UTF-8.
function csvOf(bundle, findings) {
  const { columns, formula_start: formulaStart } = bundle.findings_csv;
  const cell = (value) => {
    let text = value === null || value === undefined ? "" : String(value);
    if (formulaStart.some((start) => text.startsWith(start))) text = `'${text}`;
    return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  const lines = findings.map((f) => columns.map((c) => cell(c === "group" ? (f.group ?? []).join(" / ") : f[c])).join(","));
  return `\uFEFF${[columns.join(","), ...lines].join("\r\n")}\r\n`;
}

function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// The report as the CLI's HTML shows it, in the page (its values escaped by reportBody).
function render(report) {
  $("report").innerHTML = reportBody(report);
  $("downloads").hidden = false;
}

// The first bytes say how a file is read (reading/formats.py), never its name alone.
const MAGIC = [
  [[0x50, 0x4b, 0x03, 0x04], "xlsx"],
  [[0xd0, 0xcf, 0x11, 0xe0], "xls"],
  [[0x50, 0x41, 0x52, 0x31], "parquet"],
];

// A file read here in JavaScript (a workbook, or a CSV file that is not plain) is held as text
// values, many times its size: such a file is checked only up to a smaller size.
function tooLargeToParse(bundle, name, size) {
  if (size <= bundle.page_parsed_size) return;
  throw new ReadFailure("page/too-large", { file: name, size: bytesText(size), limit: bytesText(bundle.page_parsed_size) }, bundle.sentences.too_large_parsed);
}

function readFile(bundle, guard, bytes, name, stated, parsed = false) {
  const kind = MAGIC.find(([magic]) => magic.every((b, i) => bytes[i] === b))?.[1] ?? "csv";
  const suffix = /\.([^.]*)$/.exec(name)?.[1].toLowerCase() ?? "";
  if (kind === "csv" && ["xlsx", "xlsm", "xls", "parquet"].includes(suffix)) throw new ReadFailure("file/misnamed", { file: name, suffix });
  // A header that is an NHS number, a date or a postcode is a record's value (the header row is
  // missing): shown in the CLI's words for it, from the bundle (reading.source.HIDDEN_HEADER).
  const hide = (header) => (guard.maskIdentifiers(trimPython(header)) === guard.hidden ? bundle.hidden_header : header);
  if (kind === "xlsx") {
    tooLargeToParse(bundle, name, bytes.length);
    return readXlsx(bytes, name, bundle.limits, hide);
  }
  if (kind !== "csv") throw new ReadFailure("page/format", { file: name, kind: kind === "xls" ? "an .xls workbook" : "a Parquet file" }, bundle.sentences.format);
  const read = readCsv(bytes, name, stated, bundle.limits, { parsed, beforeParsing: () => tooLargeToParse(bundle, name, bytes.length) });
  for (const sheet of read.sheets) sheet.headers = sheet.headers.map(hide);
  // Which reader read the file (the parity test checks that both are used as meant).
  globalThis.mhdeathsReaders?.push([name, read.sheets[0].plain ? "duckdb" : "javascript"]);
  return read;
}

async function digestOf(bytes) {
  // The digest where the browser offers one (a page served over plain HTTP from another machine
  // is not given it).
  if (!globalThis.crypto?.subtle) return "";
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// A file read and its sheets put in DuckDB (store.js), as the sheets `sheet__<n>`.
async function readInto(bundle, guard, duck, file, stated, number) {
  let bytes = new Uint8Array(await file.arrayBuffer());
  const size = bytes.length;
  const sha256 = await digestOf(bytes);
  let read = readFile(bundle, guard, bytes, file.name, stated);
  bytes = null; // the plain file's bytes are DuckDB's now, or read from the file itself
  const sheets = [];
  for (const sheet of read.sheets) {
    const id = `${number}_${sheets.length}`;
    if (!sheet.plain) {
      sheets.push({ ...sheet, columns: null, rows: null, ...(await storeParsed(duck.conn, id, sheet)) });
      continue;
    }
    try {
      sheets.push({ name: sheet.name, headers: sheet.headers, ...(await storePlain(duck.db, duck.conn, id, sheet, file)) });
    } catch (error) {
      if (!(error instanceof NotPlain)) throw error;
      // DuckDB did not read it as this page would: read it here, as every file once was.
      // The name as a report shows it: a file may be named after a patient.
      console.warn(`${guard.name(file.name)} is read by the page's own reader: ${error.message}`);
      globalThis.mhdeathsReaders.pop();
      read = readFile(bundle, guard, new Uint8Array(await file.arrayBuffer()), file.name, stated, true);
      sheets.push({ ...read.sheets[0], columns: null, rows: null, ...(await storeParsed(duck.conn, id, read.sheets[0])) });
    }
  }
  return { name: file.name, size, sha256, format: read.format, encoding: read.encoding ?? null, delimiter: read.delimiter ?? null, sheets };
}

async function main() {
  state("loading");
  const bundle = await (await fetch("bundle.json")).json();
  if (bundle.format !== BUNDLE_FORMAT) throw new Error("This page cannot read its bundle: publish the page again.");
  $("title").textContent = `${bundle.title}: validate a submission (spec ${bundle.spec_version})`;
  const guard = makeGuard(bundle);
  const duck = await startDuckDB();
  let last = null;
  $("check").addEventListener("click", async () => {
    const clicked = performance.now();
    // Settled when the check ends, either way (tests and the benchmark wait on it).
    let settle;
    window.mhdeathsChecked = new Promise((resolve) => {
      settle = resolve;
    });
    const files = [...$("files").files];
    $("problem").textContent = "";
    $("report").replaceChildren();
    $("downloads").hidden = true;
    window.mhdeathsReport = null;
    window.mhdeathsProblem = null;
    if (!files.length) return settle();
    state("busy");
    try {
      const picked = $("profile").files[0];
      const profile = picked ? readProfile(new Uint8Array(await picked.arrayBuffer()), picked.name, bundle) : null;
      const stated = { encoding: profile?.encoding ?? null, delimiter: profile?.delimiter ?? null };
      const { conn } = duck;
      await duck.warming;
      globalThis.mhdeathsReaders = [];
      const cleared = performance.now();
      await duck.clearing;
      await clear(conn);
      const started = performance.now();
      for (const file of files) {
        // Refused before it is read: the CLI's limit, and what a browser tab can hold.
        if (file.size > bundle.limits.file_size) throw new ReadFailure("file/too-large", { file: file.name, limit: bytesText(bundle.limits.file_size) });
        if (file.size > bundle.page_file_size) {
          throw new ReadFailure("page/too-large", { file: file.name, size: bytesText(file.size), limit: bytesText(bundle.page_file_size) }, bundle.sentences.too_large);
        }
      }
      const sources = [];
      for (const file of files) sources.push(await readInto(bundle, guard, duck, file, stated, sources.length));
      const read = performance.now();
      const declared = await checkVersion(bundle, conn, sources, profile, guard);
      if (profile) await checkFit(bundle, profile, conn);
      const parts = tableParts(bundle, sources, profile);
      const found = performance.now();
      last = await check(conn, bundle, parts, profile, $("strict").checked);
      Object.assign(globalThis.mhdeathsTimings, { read: Math.round(read - started), intake: Math.round(found - read) });
      last.spec_version_declared = declared;
      last.tool = bundle.generator;
      last.files = filesOf(sources, parts, guard);
      window.mhdeathsReport = last;
      const checked = performance.now();
      render(last);
      Object.assign(globalThis.mhdeathsTimings, { clear: Math.round(started - cleared), report: Math.round(performance.now() - checked), all: Math.round(performance.now() - clicked) });
      // The report holds what is shown: DuckDB's memory is let go, while the report is read.
      duck.clearing = clear(conn).catch(() => {});
      state("done");
    } catch (error) {
      const memory = error instanceof OutOfMemory || isOutOfMemory(error);
      // A sentence may carry a file's name: the guard takes out what the CLI's does.
      const text = guard.message(
        error instanceof ProfileFailure
          ? error.message
          : error instanceof ReadFailure
            ? sentence(bundle, error)
            : memory
              ? format(bundle.sentences.out_of_memory, { files: files.map((f) => f.name).join(", ") })
              : "The files could not be checked: the page met an error it did not expect.",
      );
      // An unexpected error's message may quote a value of the file (a DuckDB conversion error
      // does): the console gets its kind only, as the user gets a fixed sentence.
      if (!(error instanceof ReadFailure || error instanceof ProfileFailure)) {
        console.error(`Unexpected ${error?.name ?? "error"} while checking; its message is withheld: it may quote a value of the file.`);
      }
      if (memory) {
        // DuckDB may not recover from running out of memory: the next check gets a new one.
        await duck.db.terminate().catch(() => {});
        Object.assign(duck, await startDuckDB());
      }
      $("problem").textContent = text;
      window.mhdeathsProblem = text;
      state("failed");
    } finally {
      settle();
    }
  });
  $("download-csv").addEventListener("click", () => last && download(`${reportStem(last)}.findings.csv`, "text/csv", csvOf(bundle, last.findings)));
  $("download-html").addEventListener("click", () => last && download(`${reportStem(last)}.report.html`, "text/html", reportDocument(last, REPORT_STYLE)));
  state("ready");
  duck.warming = warmUp(bundle, duck)
    .catch((error) => console.warn(`The page did not warm up: ${error}`))
    .finally(() => {
      document.body.dataset.warm = "done";
    });
}

main().catch((error) => {
  console.error(error);
  $("problem").textContent = "The validator could not start in this browser.";
  state("broken");
});
