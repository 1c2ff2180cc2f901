// The page: load the spec's bundle and DuckDB (both from this folder, nothing from elsewhere),
// read the files the user picks inside the browser, check them, show the report. The file never
// leaves the machine: the page makes no request but for its own files.
import * as duckdb from "@duckdb/duckdb-wasm";
import { readCsv, ReadFailure } from "./read_csv.js";
import { readXlsx } from "./xlsx.js";
import { tableParts, checkVersion } from "./intake.js";
import { bytesText } from "./read_csv.js";
import { check } from "./check.js";
import { readProfile, checkFit, ProfileFailure } from "./profile.js";
import { makeGuard } from "./guard.js";
import { format } from "./words.js";
import { filesOf, reportBody, reportDocument } from "./report.js";

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

function readFile(bundle, guard, bytes, name, stated) {
  const kind = MAGIC.find(([magic]) => magic.every((b, i) => bytes[i] === b))?.[1] ?? "csv";
  const suffix = /\.([^.]*)$/.exec(name)?.[1].toLowerCase() ?? "";
  if (kind === "csv" && ["xlsx", "xlsm", "xls", "parquet"].includes(suffix)) throw new ReadFailure("file/misnamed", { file: name, suffix });
  if (kind === "xlsx") {
    const hide = (header) => (guard.maskIdentifiers(header.trim()) === guard.hidden ? bundle.hidden_header : header);
    return readXlsx(bytes, name, bundle.limits, hide);
  }
  if (kind !== "csv") throw new ReadFailure("page/format", { file: name, kind: kind === "xls" ? "an .xls workbook" : "a Parquet file" }, bundle.sentences.format);
  return readCsv(bytes, name, stated, bundle.limits);
}

async function main() {
  state("loading");
  const bundle = await (await fetch("bundle.json")).json();
  if (bundle.format !== BUNDLE_FORMAT) throw new Error("This page cannot read its bundle: publish the page again.");
  $("title").textContent = `${bundle.title}: validate a submission (spec ${bundle.spec_version})`;
  const guard = makeGuard(bundle);
  const { db, conn } = await startDuckDB();
  let last = null;
  $("check").addEventListener("click", async () => {
    const files = [...$("files").files];
    $("problem").textContent = "";
    $("report").replaceChildren();
    $("downloads").hidden = true;
    window.mhdeathsReport = null;
    window.mhdeathsProblem = null;
    if (!files.length) return;
    state("busy");
    try {
      const picked = $("profile").files[0];
      const profile = picked ? readProfile(new Uint8Array(await picked.arrayBuffer()), picked.name, bundle) : null;
      const stated = { encoding: profile?.encoding ?? null, delimiter: profile?.delimiter ?? null };
      const started = performance.now();
      const sources = [];
      for (const file of files) {
        // Refused before it is read: the CLI's limit, and what a browser tab can hold.
        if (file.size > bundle.limits.file_size) throw new ReadFailure("file/too-large", { file: file.name, limit: bytesText(bundle.limits.file_size) });
        if (file.size > bundle.page_file_size) {
          throw new ReadFailure("page/too-large", { file: file.name, size: bytesText(file.size), limit: bytesText(bundle.page_file_size) }, bundle.sentences.too_large);
        }
        const bytes = new Uint8Array(await file.arrayBuffer());
        sources.push({ name: file.name, bytes, ...readFile(bundle, guard, bytes, file.name, stated) });
      }
      const read = performance.now();
      const declared = checkVersion(bundle, sources, profile, guard);
      if (profile) await checkFit(bundle, profile, conn);
      const parts = tableParts(bundle, sources, profile);
      const found = performance.now();
      last = await check(db, conn, bundle, parts, profile, $("strict").checked);
      Object.assign(globalThis.mhdeathsTimings, { read: Math.round(read - started), intake: Math.round(found - read) });
      last.spec_version_declared = declared;
      last.tool = bundle.generator;
      last.files = await filesOf(sources, parts, guard);
      window.mhdeathsReport = last;
      render(last);
      state("done");
    } catch (error) {
      // A sentence may carry a file's name: the guard takes out what the CLI's does.
      const text = guard.message(error instanceof ProfileFailure ? error.message : error instanceof ReadFailure ? sentence(bundle, error) : "The files could not be checked: the page met an error it did not expect.");
      if (!(error instanceof ReadFailure || error instanceof ProfileFailure)) console.error(error);
      $("problem").textContent = text;
      window.mhdeathsProblem = text;
      state("failed");
    }
  });
  $("download-csv").addEventListener("click", () => last && download(`${reportStem(last)}.findings.csv`, "text/csv", csvOf(bundle, last.findings)));
  $("download-html").addEventListener("click", () => last && download(`${reportStem(last)}.report.html`, "text/html", reportDocument(last, REPORT_STYLE)));
  state("ready");
}

main().catch((error) => {
  console.error(error);
  $("problem").textContent = "The validator could not start in this browser.";
  state("broken");
});
