// Sentences from the bundle's templates, filled in as Python's str.format fills them: `{name}`,
// `{name!r}` (a value the user gave, quoted as repr() quotes it) and `{name:,}` (a count grouped
// by thousands). The templates are written once, in the Python package; the page only fills them.

export function format(template, values) {
  return template.replace(/\{(\w+)(!r)?(:,)?\}/g, (_, name, repr, grouped) => {
    const value = values[name];
    if (repr) return pythonRepr(String(value));
    return grouped && typeof value === "number" ? value.toLocaleString("en-GB") : String(value);
  });
}

// A text as Python's repr() shows it, as the CLI's sentences quote a value the user gave.
export function pythonRepr(text) {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  const body = text.replaceAll("\\", "\\\\").replaceAll(quote, `\\${quote}`).replaceAll("\n", "\\n").replaceAll("\r", "\\r").replaceAll("\t", "\\t");
  return `${quote}${body}${quote}`;
}
