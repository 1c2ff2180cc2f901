// Build the page's runner into the Python package's data (src/mhdeaths/validate/page_assets/),
// from which `mhdeaths spec publish` copies it beside each version's bundle. Only files from this
// folder's locked node_modules go in: the page loads nothing from anywhere else.
import * as esbuild from "esbuild";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
// Another folder may be named (the reproducibility test builds twice and compares the bytes).
const out = process.argv[2] ?? join(here, "..", "..", "src", "mhdeaths", "validate", "page_assets");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
// The CLI report's style, from its template: the page shows and downloads the same report.
const template = readFileSync(join(here, "..", "..", "src", "mhdeaths", "output", "templates", "validation-report.html.j2"), "utf8");
const reportStyle = /<style>\n([\s\S]*?)<\/style>/.exec(template)[1];
await esbuild.build({
  define: { REPORT_STYLE: JSON.stringify(reportStyle) },
  entryPoints: [join(here, "src", "main.js")],
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  legalComments: "eof",
  outfile: join(out, "app.js"),
  logLevel: "warning",
});
for (const name of ["index.html", "boot.js"]) cpSync(join(here, "src", name), join(out, name));
writeFileSync(join(out, "style.css"), `${reportStyle}${readFileSync(join(here, "src", "style.css"), "utf8")}`);
const dist = join(here, "node_modules", "@duckdb", "duckdb-wasm", "dist");
for (const name of ["duckdb-mvp.wasm", "duckdb-eh.wasm"]) cpSync(join(dist, name), join(out, name));
// Each worker after a prelude of the page's own that keeps its messages out of the console; the
// script stays strict, as the worker's own first line makes it (which is no longer first).
const prelude = readFileSync(join(here, "src", "worker_console.js"), "utf8");
for (const name of ["duckdb-browser-mvp.worker.js", "duckdb-browser-eh.worker.js"]) {
  const worker = readFileSync(join(dist, name), "utf8");
  if (!worker.startsWith('"use strict";')) throw new Error(`${name} no longer starts "use strict": check the prelude`);
  writeFileSync(join(out, name), `"use strict";\n${prelude}\n${worker}`);
}
console.log(`Built the validator page into ${out}`);
