// The report page works without this script (the filter form is submitted to the server);
// with it, filters apply as they change, anchors open the diff they point into, and the diff
// can be read unified. Nothing here builds markup from the report: it only shows and hides.
"use strict";
(function () {
  const form = document.querySelector("form.filters");
  const rows = Array.from(document.querySelectorAll("article.signal"));
  const count = document.getElementById("shown-count");
  const serverFiltered = form !== null && Array.from(form.querySelectorAll("[data-filter]")).some((c) => c.value !== "");

  function apply() {
    const wanted = {};
    form.querySelectorAll("[data-filter]").forEach((control) => { wanted[control.dataset.filter] = control.value.trim(); });
    let shown = 0;
    rows.forEach((row) => {
      const ok = Object.entries(wanted).every(([name, value]) => {
        if (value === "") return true;
        if (name === "resource") return row.dataset.resource.toLowerCase().includes(value.toLowerCase());
        if (name === "environment") return row.dataset.environment.split("\n").includes(value);
        return row.dataset[name] === value;
      });
      row.classList.toggle("hidden", !ok);
      if (ok) shown += 1;
    });
    if (count) count.textContent = String(shown);
    const query = new URLSearchParams(window.location.search);
    Object.entries(wanted).forEach(([name, value]) => { if (value) query.set(name, value); else query.delete(name); });
    window.history.replaceState(null, "", "?" + query.toString() + window.location.hash);
  }

  if (form !== null) {
    form.addEventListener("submit", (event) => { if (!serverFiltered) { event.preventDefault(); apply(); } });
    form.querySelectorAll("[data-filter]").forEach((control) => {
      control.addEventListener(control.tagName === "SELECT" ? "change" : "input", () => {
        if (serverFiltered) form.submit(); else apply();
      });
    });
  }

  function openTarget() {
    let id = "";
    try {
      id = decodeURIComponent(window.location.hash.slice(1));
    } catch (error) {
      return; // a fragment that is not ours (malformed escapes): nothing to open
    }
    const target = id ? document.getElementById(id) : null;
    if (target === null) return;
    target.classList.remove("hidden");
    const details = target.closest("details");
    if (details) details.open = true;
    target.scrollIntoView({ block: "start" });
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();

  const toggle = document.querySelector("[data-toggle-view]");
  const resources = document.querySelector("section.resources");
  if (toggle && resources) {
    toggle.hidden = false;
    toggle.addEventListener("click", () => {
      const unified = resources.classList.toggle("unified");
      toggle.textContent = unified ? "side-by-side view" : "unified view";
    });
  }
  document.documentElement.dataset.ready = "true";
})();
