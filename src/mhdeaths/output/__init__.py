"""What every stage writes with: templates, safe file writes, cells safe for spreadsheets.

The base of the output side, below every stage that writes: nothing here knows a spec, a
submission or a benchmark, so a report, a published spec artefact and a benchmark workbook share
one way to render a template, write JSON, keep a cell from running as a formula and refuse a
write outside its folder."""
