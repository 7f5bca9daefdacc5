// The claim entry page: rows added in place, similar claims shown while the
// statement is typed, and a search to pick the other claim of a relation.
// Every one of these also works without this file (see claims/views.py).
(function () {
  "use strict";

  function debounce(fn, wait) {
    var timer = null;
    return function () {
      var args = arguments;
      var self = this;
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { fn.apply(self, args); }, wait);
    };
  }

  function getText(url) {
    return fetch(url, {
      credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" },
    }).then(function (response) {
      if (!response.ok) throw new Error(response.status);
      return response;
    });
  }

  // Add another row ---------------------------------------------------------
  // The server renders an empty row into a <template>; a copy takes the next
  // index, and the management form's count follows.
  function addRow(button) {
    var prefix = button.getAttribute("data-add-row");
    var form = button.form;
    var total = form.querySelector("#id_" + prefix + "-TOTAL_FORMS");
    var max = form.querySelector("#id_" + prefix + "-MAX_NUM_FORMS");
    var template = document.getElementById(prefix + "-template");
    var rows = document.getElementById(button.getAttribute("data-rows"));
    if (!total || !template || !rows) return false;
    var index = parseInt(total.value, 10) || 0;
    if (max && index >= parseInt(max.value, 10)) {
      button.disabled = true;
      return true;
    }
    var html = template.innerHTML
      .replace(/__prefix__/g, String(index))
      .replace(/__number__/g, String(index + 1));
    rows.insertAdjacentHTML("beforeend", html);
    total.value = String(index + 1);
    var row = rows.lastElementChild;
    var first = row && row.querySelector("select, input:not([type=hidden]), textarea");
    if (first) first.focus();
    return true;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-add-row]");
    if (!button) return;
    if (addRow(button)) event.preventDefault();
  });

  // A row ticked for removal fades, so the page shows what will be saved.
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.name || !/-DELETE$/.test(box.name)) return;
    var row = box.closest(".entry-row");
    if (row) row.classList.toggle("removed", box.checked);
  });

  // Similar claims ----------------------------------------------------------
  function setUpSimilar(form) {
    var url = form.getAttribute("data-similar-url");
    var statement = form.querySelector("#id_statement");
    var slot = document.getElementById("similar-claims");
    if (!url || !statement || !slot) return;
    var last = null;
    var refresh = debounce(function () {
      var text = statement.value.trim();
      if (text.length < 12) return;
      getText(url + "?statement=" + encodeURIComponent(text.slice(0, 2000)))
        .then(function (response) { return response.text(); })
        .then(function (html) {
          // Unchanged results keep the analyst's "log it anyway" tick.
          if (html === last) return;
          last = html;
          slot.innerHTML = html.trim();
        })
        .catch(function () { /* The server checks again on save. */ });
    }, 600);
    statement.addEventListener("input", refresh);
    // A statement typed before this script ran (the page still loading) came
    // with no input event heard: look it up now, unless the server has
    // already shown what it found (the page again after an error).
    if (!slot.innerHTML.trim() && statement.value.trim()) refresh();
  }

  // Picking the other claim of a relation ------------------------------------
  var LEVEL = /^[a-z_]+$/;

  function lookupParts(input) {
    var box = input.closest(".lookup");
    return {
      box: box,
      list: box.querySelector(".lookup-results"),
      picked: box.querySelector(".lookup-picked"),
    };
  }

  function closeList(input) {
    var parts = lookupParts(input);
    parts.list.hidden = true;
    parts.list.textContent = "";
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function describe(target, claim) {
    target.textContent = "";
    var badge = document.createElement("span");
    badge.className = "badge" + (LEVEL.test(claim.level) ? " level-" + claim.level : "");
    badge.textContent = claim.level_display || claim.level;
    target.appendChild(badge);
    var statement = claim.statement.length > 200 ? claim.statement.slice(0, 199) + "…" : claim.statement;
    target.appendChild(document.createTextNode(" #" + claim.id + " " + statement));
  }

  function choose(input, option) {
    var parts = lookupParts(input);
    input.value = option.getAttribute("data-id");
    describe(parts.picked, option.claim);
    closeList(input);
    input.focus();
  }

  function showResults(input, claims) {
    var parts = lookupParts(input);
    var list = parts.list;
    list.textContent = "";
    if (!claims.length) {
      var none = document.createElement("div");
      none.className = "lookup-empty";
      none.textContent = "No claim matches.";
      list.appendChild(none);
    }
    claims.forEach(function (claim, i) {
      var option = document.createElement("div");
      option.className = "lookup-option";
      option.id = list.id + "-" + i;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.setAttribute("data-id", String(claim.id));
      option.claim = claim;
      describe(option, claim);
      list.appendChild(option);
    });
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  var search = debounce(function (input) {
    var query = input.value.trim();
    var parts = lookupParts(input);
    if (query.length < 2 && !/^\d+$/.test(query)) {
      closeList(input);
      return;
    }
    var url = parts.box.getAttribute("data-lookup-url") + "?q=" + encodeURIComponent(query);
    var exclude = parts.box.getAttribute("data-exclude");
    if (exclude) url += "&exclude=" + encodeURIComponent(exclude);
    getText(url)
      .then(function (response) { return response.json(); })
      .then(function (claims) {
        if (input.value.trim() !== query) return;
        if (/^#?\d+$/.test(query) && claims.length && String(claims[0].id) === query.replace("#", "")) {
          describe(parts.picked, claims[0]);
        }
        showResults(input, claims);
      })
      .catch(function () { closeList(input); });
  }, 250);

  function enhanceLookup(input) {
    if (input.getAttribute("role") === "combobox") return;
    var parts = lookupParts(input);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", parts.list.id);
  }

  function move(input, step) {
    var list = lookupParts(input).list;
    var options = Array.prototype.slice.call(list.querySelectorAll(".lookup-option"));
    if (list.hidden || !options.length) return;
    var current = options.findIndex(function (o) { return o.getAttribute("aria-selected") === "true"; });
    var next = (current + step + options.length) % options.length;
    options.forEach(function (o, i) { o.setAttribute("aria-selected", i === next ? "true" : "false"); });
    input.setAttribute("aria-activedescendant", options[next].id);
    options[next].scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("input.claim-lookup")) enhanceLookup(event.target);
  });

  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input.claim-lookup")) return;
    enhanceLookup(input);
    lookupParts(input).picked.textContent = "";
    search(input);
  });

  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input.claim-lookup")) return;
    var list = lookupParts(input).list;
    if (event.key === "ArrowDown") { event.preventDefault(); move(input, 1); }
    else if (event.key === "ArrowUp") { event.preventDefault(); move(input, -1); }
    else if (event.key === "Escape" && !list.hidden) { event.preventDefault(); closeList(input); }
    else if (event.key === "Enter" && !list.hidden) {
      var active = list.querySelector('[aria-selected="true"]');
      if (active) { event.preventDefault(); choose(input, active); }
    }
  });

  // mousedown, not click: the input must not lose its list before the choice.
  document.addEventListener("mousedown", function (event) {
    var option = event.target.closest(".lookup-option");
    if (!option) return;
    var input = option.closest(".lookup").querySelector("input.claim-lookup");
    // The pickers of sources, documents and places are app.js's.
    if (!input) return;
    event.preventDefault();
    choose(input, option);
  });

  document.addEventListener("focusout", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input.claim-lookup")) return;
    window.setTimeout(function () {
      if (document.activeElement !== input) closeList(input);
    }, 150);
  });

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form.claim-entry");
    if (form) setUpSimilar(form);
    // After a refused save, the list of problems is where the keyboard starts.
    var summary = document.querySelector(".error-summary, .conflict");
    if (summary) summary.focus();
  });
})();
