// What the CLI takes off the ends of text, and when (validate/reading/): JavaScript's trim() takes
// off another set of blanks (a byte-order mark, but not NEL), so the page trims with these instead.
//
// - A CSV's values, and a workbook's cells: Rust's white space (polars' str.strip_chars). A CSV's
//   values only when the CLI's scan of the bytes finds padding (reading/scan.py, padsValues below);
//   a workbook's cells always.
// - A CSV's headers, and any other text the CLI strips in Python (str.strip): Python's white
//   space, which is Rust's and the four separators U+001C to U+001F.
//
// tests/functional/test_validator_page.py holds both sets to what polars and Python take off.

export const RUST_BLANKS =
  "\t\n\u000b\f\r \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000";
export const PYTHON_BLANKS = `${RUST_BLANKS}\u001c\u001d\u001e\u001f`;

function trimmer(blanks) {
  const codes = [...blanks].map((c) => c.charCodeAt(0));
  const table = new Uint8Array(Math.max(...codes) + 1);
  for (const code of codes) table[code] = 1;
  const blank = (code) => table[code] === 1;
  return (text) => {
    let start = 0;
    let end = text.length;
    while (start < end && blank(text.charCodeAt(start))) start++;
    while (end > start && blank(text.charCodeAt(end - 1))) end--;
    return start === 0 && end === text.length ? text : text.slice(start, end);
  };
}

export const trimRust = trimmer(RUST_BLANKS);
export const trimPython = trimmer(PYTHON_BLANKS);

// The CLI's scan (reading/scan.py): whether a space or a tab (a tab only when it is not the
// delimiter) stands next to the delimiter, a quote or a line break, the start of the file counting
// as a line break; or two quotes stand together; or the file ends with a space. Only then does the
// CLI trim a CSV's values. ``bytes``: the file's own bytes; ``sep``: the delimiter's first byte.
export function padsValues(bytes, sep) {
  const marks = new Uint8Array(256);
  for (const b of [sep, 34, 10, 13]) marks[b] = 1;
  for (const b of sep === 9 ? [32] : [32, 9]) marks[b] = 2;
  const n = bytes.length;
  let before = 1;
  for (let i = 0; i < n; i++) {
    const mark = marks[bytes[i]];
    if (mark !== 0 && before !== 0 && (mark !== before || (bytes[i] === 34 && bytes[i - 1] === 34))) return true;
    before = mark;
  }
  return n > 0 && bytes[n - 1] === 32;
}

// The byte the CLI's scan takes for a delimiter: its first in UTF-8.
export const delimiterByte = (sep) => new TextEncoder().encode(sep)[0] ?? 44;
