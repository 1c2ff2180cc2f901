// The validation report as the CLI's HTML shows it (output/templates/validation-report.html.j2):
// the verdict first, then the rules that failed, the findings by rule and by row, the files and the
// field quality, in the template's words and order. The page shows it and downloads it; its style
// is the template's own, copied into style.css when the page is built. Every value is escaped, as
// the template's autoescape does. tests/functional/test_validator_page.py compares the text of both.
import { fixed } from "./words.js";

const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;" };

function e(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const words = (severity) => severity.replaceAll("_", " ");
const or = (value, fallback = "") => (value === null || value === undefined || value === "" ? fallback : value);

function cmp(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Each file of the submission as the report lists it (report.FileInfo); its digest where the
// browser offers one (main.js).
export function filesOf(sources, parts, guard) {
  return sources.map((s) => ({
    name: guard.name(s.name),
    format: s.format,
    sha256: s.sha256,
    size: s.size,
    encoding: s.encoding ?? null,
    delimiter: s.delimiter ?? null,
    tables: parts.filter((p) => p.file === s.name).map((p) => p.table),
  }));
}

// The report's <header> and <main>, as the template writes them.
export function reportBody(report) {
  const out = [];
  const declared = report.spec_version_declared && report.spec_version_declared !== report.spec_version ? ` (the file declares ${e(report.spec_version_declared)})` : "";
  out.push(
    `<header>\n<h1>Validation report</h1>\n<p class="meta">Checked against spec version <strong>${e(report.spec_version)}</strong>${declared}\n by ${e(report.tool)}${report.profile ? `, with the provider profile of ${e(report.profile)}` : ""}${report.strict ? ", in strict mode (warnings fail)" : ""}.\n Provider ${e(or(report.provider, "not stated"))}, reporting period ${e(or(report.reporting_period, "not stated"))}.</p>\n</header>\n<main>`,
  );
  const css = report.verdict === "accepted" ? "accepted" : report.verdict === "accepted with warnings" ? "warnings" : "rejected";
  out.push(`<div class="verdict ${css}" id="verdict">Verdict: ${e(report.verdict)}</div>`);
  out.push('<table aria-label="Findings by severity">\n<thead><tr><th>Severity</th><th>Findings</th></tr></thead>\n<tbody>');
  for (const [severity, n] of Object.entries(report.counts)) out.push(`<tr><td class="sev ${e(severity)}">${e(words(severity))}</td><td class="num">${e(n)}</td></tr>`);
  out.push("</tbody>\n</table>");
  for (const note of report.notes) out.push(`<p class="note">${e(note)}</p>`);

  out.push('<h2 id="rules">Rules that failed</h2>');
  if (report.rules.length) {
    out.push("<table>\n<thead><tr><th>Rule</th><th>Severity</th><th>Title</th><th>Failed</th><th>Listed</th></tr></thead>\n<tbody>");
    for (const r of report.rules) {
      out.push(
        `<tr><td><a href="#${e(r.rule_id)}"><code>${e(r.rule_id)}</code></a></td><td class="sev ${e(r.severity)}">${e(words(r.severity))}${r.derogation ? " (derogated)" : ""}</td><td>${e(r.title)}</td><td class="num">${e(r.failed)}</td><td class="num">${e(r.shown)}${r.truncated ? " (list cut)" : ""}</td></tr>`,
      );
    }
    out.push(`</tbody>\n</table>\n<p class="meta">${e(report.rules_checked)} rules were checked.</p>`);
  } else {
    out.push(`<p>No rule failed; ${e(report.rules_checked)} rules were checked.</p>`);
  }

  out.push('<h2 id="findings">Findings</h2>');
  for (const r of report.rules) {
    out.push(`<section class="rule" id="${e(r.rule_id)}">\n<h3><code>${e(r.rule_id)}</code>: ${e(r.title)}</h3>`);
    const items = report.findings.filter((f) => f.rule_id === r.rule_id);
    if (items.length) {
      out.push(`<dl>\n<dt>Severity</dt><dd class="sev ${e(r.severity)}">${e(words(r.severity))}</dd>`);
      if (r.derogation) out.push(`<dt>Derogation</dt><dd>${e(r.derogation)}</dd>`);
      out.push(`<dt>What is wrong</dt><dd>${e(items[0].message)}</dd>\n<dt>How to fix it</dt><dd>${e(items[0].fix)}</dd>`);
      if (items[0].example) out.push(`<dt>Valid example</dt><dd><code>${e(items[0].example)}</code></dd>`);
      out.push("</dl>\n<table>\n<thead><tr><th>File</th><th>Row</th><th>Column</th><th>Header</th><th>Field</th><th>Value</th><th>Group</th></tr></thead>\n<tbody>");
      for (const f of items) {
        out.push(
          `<tr><td>${e(f.file)}</td><td class="num">${e(or(f.row))}</td><td>${e(or(f.column))}</td><td>${e(or(f.header))}</td><td><code>${e(or(f.field))}</code></td><td>${e(or(f.value))}</td><td>${e((f.group ?? []).join(" / "))}</td></tr>`,
        );
      }
      out.push("</tbody>\n</table>");
      if (r.truncated) out.push(`<p class="note">${e(r.failed)} records failed this rule; the first ${e(r.shown)} are listed.</p>`);
    }
    out.push("</section>");
  }
  if (!report.rules.length) out.push("<p>No findings.</p>");

  out.push('<h2 id="by-row">Findings by row</h2>');
  const rowed = report.findings.filter((f) => f.row).sort((a, b) => cmp(a.file, b.file) || a.row - b.row);
  if (rowed.length) {
    out.push('<p class="meta">The same findings, record by record, in the order of the file: to fix a record once for everything found on it.</p>');
    out.push("<table>\n<thead><tr><th>File</th><th>Row</th><th>Column</th><th>Header</th><th>Rule</th><th>Severity</th><th>What is wrong</th></tr></thead>\n<tbody>");
    for (const f of rowed) {
      out.push(
        `<tr><td>${e(f.file)}</td><td class="num">${e(f.row)}</td><td>${e(or(f.column))}</td><td>${e(or(f.header))}</td><td><a href="#${e(f.rule_id)}"><code>${e(f.rule_id)}</code></a></td><td class="sev ${e(f.severity)}">${e(words(f.severity))}</td><td>${e(f.message)}</td></tr>`,
      );
    }
    out.push("</tbody>\n</table>");
  } else {
    out.push("<p>No finding is about one record.</p>");
  }

  out.push('<h2 id="files">Files</h2>\n<table>\n<thead><tr><th>File</th><th>Format</th><th>Encoding</th><th>Tables</th><th>Records</th><th>SHA-256</th></tr></thead>\n<tbody>');
  for (const f of report.files) {
    const records = report.tables.filter((t) => t.file === f.name).map((t) => `${e(t.records)} ${e(t.name)}`).join(", ");
    out.push(`<tr><td>${e(f.name)}</td><td>${e(f.format)}</td><td>${e(or(f.encoding))}</td><td>${e(f.tables.join(", "))}</td>\n<td class="num">${records}</td><td><code>${e(f.sha256.slice(0, 16))}</code></td></tr>`);
  }
  out.push("</tbody>\n</table>");

  out.push(
    '<h2 id="quality">Data quality by field</h2>\n<p class="meta">In the NHS Data Quality Maturity Index vocabulary: coverage (the file has the column), completeness (records with a value), validity (values that pass the field\'s own checks) and default-code use (values that are "not known" or "not stated" codes), as percentages.</p>',
  );
  out.push("<table>\n<thead><tr><th>Table</th><th>Field</th><th>Mandation</th><th>Coverage</th><th>Completeness</th><th>Validity</th><th>Default codes</th></tr></thead>\n<tbody>");
  const one = (x) => (x === null || x === undefined ? "" : fixed(x, 1));
  for (const q of report.fields) {
    out.push(
      `<tr><td>${e(q.table)}</td><td><code>${e(q.field)}</code> ${e(q.title)}</td><td>${e(q.mandation)}</td><td class="num">${fixed(q.coverage, 0)}</td><td class="num">${fixed(q.completeness, 1)}</td><td class="num">${one(q.validity)}</td><td class="num">${one(q.default_code_use)}</td></tr>`,
    );
  }
  out.push("</tbody>\n</table>\n\n</main>");
  out.push('<footer><p class="meta">This report shows no NHS number, date of birth or postcode: findings cite the file, row and column. Values are shown only for coded fields.</p></footer>');
  return out.join("\n");
}

// The report as a file of its own, as the CLI writes it: self-contained, no script, its style inline.
export function reportDocument(report, style) {
  const names = report.files.map((f) => f.name).join(", ");
  return `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>Validation report: ${e(report.verdict)} (${e(names)})</title>\n<style>\n${style}</style>\n</head>\n<body>\n${reportBody(report)}\n</body>\n</html>\n`;
}
