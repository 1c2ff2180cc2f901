// Put before DuckDB's worker script by build.mjs: the worker logs the error of every query that
// fails (console.log in its message handler), and DuckDB's CSV errors quote the line they stopped
// at, a patient's record, in the browser's console. The page tells the user its own sentence for
// each failure (store.js), so the worker's console says only that it withheld a message.
for (const level of ["log", "info", "debug", "warn", "error", "trace", "dir", "table"]) {
  const say = console[level === "dir" || level === "table" ? "log" : level].bind(console);
  console[level] = () => say("DuckDB's worker wrote a message, withheld by the page: it may quote a line of the file.");
}
