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

// A number with ``digits`` decimals as Python's "%.Nf" and Rust's "{:.N}" write it: the double's
// exact value, rounded half to even (toFixed rounds an exact half up: 12.25 would be 12.3).
export function fixed(x, digits) {
  if (!Number.isFinite(x)) return String(x);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const high = view.getUint32(0);
  const negative = high >>> 31 === 1;
  const exponent = (high >>> 20) & 0x7ff;
  let mantissa = (BigInt(high & 0xfffff) << 32n) | BigInt(view.getUint32(4));
  let shift = -1074;
  if (exponent !== 0) {
    mantissa |= 1n << 52n;
    shift = exponent - 1075;
  }
  const ten = 10n ** BigInt(digits);
  let scaled;
  if (shift >= 0) scaled = (mantissa << BigInt(shift)) * ten;
  else {
    const denominator = 1n << BigInt(-shift);
    const numerator = mantissa * ten;
    scaled = numerator / denominator;
    const twice = 2n * (numerator % denominator);
    if (twice > denominator || (twice === denominator && scaled % 2n === 1n)) scaled += 1n;
  }
  const text = scaled.toString().padStart(digits + 1, "0");
  const whole = digits ? `${text.slice(0, -digits)}.${text.slice(-digits)}` : text;
  return `${negative ? "-" : ""}${whole}`;
}
