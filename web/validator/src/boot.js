// A classic script, so that it runs where the page's module cannot: opened straight from disk
// (a file:// address), a browser loads no module and starts no worker, and the page would wait
// for ever. Say so, and how to open it.
if (location.protocol === "file:") {
  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("problem").textContent =
      "This page cannot check files when it is opened from a disk or a shared drive: open it through a web server (the providers' guide says how).";
    document.body.dataset.state = "broken";
  });
}
