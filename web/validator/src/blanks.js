// What the CLI takes off the ends of text, and when (validate/reading/): JavaScript's trim() takes
// off another set of blanks (a byte-order mark, but not NEL), so the page trims with these instead.
//
// - A CSV's values, and a workbook's cells: Rust's white space (polars' str.strip_chars), from
//   every value alike (the CLI skips trimming only a file where it would change nothing).
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
