// What a person may see of a submission (the CLI's mhdeaths.guard), with the guard's own regular
// expressions from the bundle: a value shown only when its field is a code and it reads as no
// identifier; a header or file name shown less control characters and with anything that reads as
// an NHS number, a date or a postcode hidden; a sentence without NHS numbers or postcodes.

// Python's \d and \s read any script's digits and spaces; JavaScript's, with the u flag, only
// ASCII digits: \d is read as \p{Nd}. (Text is brought to NFKC first, as in Python.)
function compile(pattern, flags) {
  const js = pattern.replace(/(^|[^\\])((?:\\\\)*)\\d/g, "$1$2\\p{Nd}").replace(/(^|[^\\])((?:\\\\)*)\\d/g, "$1$2\\p{Nd}");
  return new RegExp(js, flags);
}

// The value of a decimal digit of any script: Unicode's digits come in runs of ten from zero.
function digitValue(ch) {
  const cp = ch.codePointAt(0);
  let start = cp;
  while (start > 0 && /\p{Nd}/u.test(String.fromCodePoint(start - 1))) start--;
  return (cp - start) % 10;
}

export function makeGuard(bundle) {
  const p = bundle.guard;
  const escapes = compile(p.escapes, "gu");
  const controls = compile(p.controls, "gu");
  const controlsButNewline = compile(p.controls_but_newline, "gu");
  const digitRun = compile(p.digit_run, "gu");
  const dates = compile(p.dates, "giu");
  const postcodes = compile(p.postcodes, "giu");
  const codeText = compile(`^(?:${p.code_text})$`, "u");
  const patterns = new Map();

  function stripControls(text, keepNewlines = false) {
    text = text.replace(escapes, "");
    return text.replace(keepNewlines ? controlsButNewline : controls, (c) => ("\t\r\n".includes(c) ? " " : ""));
  }

  function nhsValid(digits) {
    let total = 0;
    for (let i = 0; i < 9; i++) total += digits[i] * (10 - i);
    const check = 11 - (total % 11);
    return (check === 11 ? 0 : check) === digits[9] && check !== 10;
  }

  function maskIdentifiers(text, withDates = true) {
    text = text.normalize("NFKC").replace(digitRun, (run) => {
      const digits = [...run].filter((c) => /\p{Nd}/u.test(c)).map(digitValue);
      for (let start = 0; start < digits.length - 9; start++) {
        if (nhsValid(digits.slice(start, start + 10))) return p.hidden;
      }
      return run;
    });
    if (withDates) text = text.replace(dates, p.hidden);
    return text.replace(postcodes, p.hidden);
  }

  const looksIdentifying = (text) => maskIdentifiers(text) !== text;

  return {
    withheld: p.withheld,
    hidden: p.hidden,
    maskIdentifiers,
    looksIdentifying,
    name: (text) => (text === null || text === undefined ? text : maskIdentifiers(stripControls(String(text)))),
    message: (text) => (text === null || text === undefined ? text : maskIdentifiers(stripControls(String(text), true), false)),
    // A cell's value as a report may show it (guard.value), for a field of the bundle.
    value(found, field) {
      if (found === null || found === undefined) return null;
      const text = String(found);
      const shape = field?.shown;
      if (!shape) return p.withheld;
      if (shape.pattern) {
        if (!patterns.has(shape.pattern)) patterns.set(shape.pattern, compile(`^(?:${shape.pattern})$`, "u"));
        if (!patterns.get(shape.pattern).test(text)) return p.withheld;
      } else if ([...text].length > shape.longest || !codeText.test(text)) {
        return p.withheld;
      }
      return looksIdentifying(text) ? p.withheld : text;
    },
  };
}
