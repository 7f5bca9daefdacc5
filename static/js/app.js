// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";

  function typingIn(element) {
    if (!element) return false;
    var tag = element.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || element.isContentEditable;
  }

  // "/" jumps to the search box, as in most list-heavy tools.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typingIn(document.activeElement)) return;
    var box = document.querySelector("[data-search-box]");
    if (!box) return;
    event.preventDefault();
    box.focus();
    box.select();
  });

  // The list's filters live in the URL; this copies it for sharing.
  function setUpCopyLink(button) {
    if (!navigator.clipboard || !window.isSecureContext) return;
    var label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(window.location.href).then(
        function () { button.textContent = "Link copied"; },
        function () { button.textContent = "Could not copy"; }
      );
      window.setTimeout(function () { button.textContent = label; }, 2000);
    });
  }

  // Empty filters stay out of the URL, so a shared link shows only what matters.
  function setUpFilterForm(form) {
    form.addEventListener("submit", function () {
      Array.prototype.forEach.call(form.elements, function (field) {
        if (field.name && !field.disabled && field.type !== "checkbox" && field.value === "") {
          field.disabled = true;
        }
      });
    });
    // Coming back through the history shows the form as it was left.
    window.addEventListener("pageshow", function () {
      Array.prototype.forEach.call(form.elements, function (field) { field.disabled = false; });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-copy-link]").forEach(setUpCopyLink);
    document.querySelectorAll("form[data-drop-empty]").forEach(setUpFilterForm);
  });
})();

// Pickers for large tables (sources, documents, places): the server renders a
// text input that takes a number or an exact name; this turns it into a
// search-as-you-type list fed by the lookup endpoint named in data-lookup-url
// (see sources/lookups.py). Keyboard: arrows move, Enter picks, Escape closes.
(function () {
  "use strict";

  var SELECTOR = "input.lookup-input";
  var timers = new WeakMap();

  function parts(input) {
    var box = input.closest(".lookup");
    return {
      box: box,
      list: box.querySelector(".lookup-results"),
      picked: box.querySelector(".lookup-picked"),
      chosen: box.querySelector(".lookup-chosen"),
    };
  }

  function closeList(input) {
    var p = parts(input);
    p.list.hidden = true;
    p.list.textContent = "";
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function enhance(input) {
    if (input.getAttribute("role") === "combobox") return;
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", parts(input).list.id);
  }

  function choose(input, option) {
    var p = parts(input);
    var id = option.getAttribute("data-id");
    var label = option.getAttribute("data-label");
    if (p.chosen) {
      // Several values: the pick becomes a ticked box, the input is free again.
      var name = p.box.getAttribute("data-name");
      var exists = Array.prototype.some.call(
        p.chosen.querySelectorAll("input[type=checkbox]"),
        function (box) { return box.value === id; }
      );
      if (!exists) {
        var item = document.createElement("li");
        var wrap = document.createElement("label");
        wrap.className = "check";
        var box = document.createElement("input");
        box.type = "checkbox";
        box.name = name;
        box.value = id;
        box.checked = true;
        wrap.appendChild(box);
        wrap.appendChild(document.createTextNode(" " + label));
        item.appendChild(wrap);
        p.chosen.appendChild(item);
      }
      input.value = "";
      p.picked.textContent = "Added " + label + ".";
    } else {
      input.value = id;
      p.picked.textContent = label;
    }
    closeList(input);
    input.focus();
  }

  function show(input, rows) {
    var list = parts(input).list;
    list.textContent = "";
    if (!rows.length) {
      var none = document.createElement("div");
      none.className = "lookup-empty";
      none.textContent = "Nothing matches.";
      list.appendChild(none);
    }
    rows.forEach(function (row, i) {
      var option = document.createElement("div");
      option.className = "lookup-option";
      option.id = list.id + "-" + i;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.setAttribute("data-id", String(row.id));
      option.setAttribute("data-label", row.label);
      option.textContent = row.label;
      if (row.detail) {
        var detail = document.createElement("span");
        detail.className = "lookup-detail";
        detail.textContent = " " + row.detail;
        option.appendChild(detail);
      }
      list.appendChild(option);
    });
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  function search(input) {
    var query = input.value.trim();
    var p = parts(input);
    if (query.length < 2 && !/^\d+$/.test(query)) {
      closeList(input);
      return;
    }
    var base = p.box.getAttribute("data-lookup-url");
    var url = base + (base.indexOf("?") === -1 ? "?" : "&") + "q=" + encodeURIComponent(query.slice(0, 200));
    fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(function (rows) {
        if (input.value.trim() !== query) return;
        show(input, rows);
      })
      .catch(function () { closeList(input); });
  }

  function move(input, step) {
    var list = parts(input).list;
    var options = Array.prototype.slice.call(list.querySelectorAll(".lookup-option"));
    if (list.hidden || !options.length) return;
    var current = options.findIndex(function (o) { return o.getAttribute("aria-selected") === "true"; });
    var next = (current + step + options.length) % options.length;
    options.forEach(function (o, i) { o.setAttribute("aria-selected", i === next ? "true" : "false"); });
    input.setAttribute("aria-activedescendant", options[next].id);
    options[next].scrollIntoView({ block: "nearest" });
  }

  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches(SELECTOR)) enhance(event.target);
  });

  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches(SELECTOR)) return;
    enhance(input);
    parts(input).picked.textContent = "";
    window.clearTimeout(timers.get(input));
    timers.set(input, window.setTimeout(function () { search(input); }, 250));
  });

  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches(SELECTOR)) return;
    var list = parts(input).list;
    if (event.key === "ArrowDown") { event.preventDefault(); move(input, 1); }
    else if (event.key === "ArrowUp") { event.preventDefault(); move(input, -1); }
    else if (event.key === "Escape" && !list.hidden) { event.preventDefault(); closeList(input); }
    else if (event.key === "Enter" && !list.hidden) {
      var active = list.querySelector('[aria-selected="true"]');
      if (active) { event.preventDefault(); choose(input, active); }
    }
  });

  // mousedown, not click: the input must keep its list until the choice.
  document.addEventListener("mousedown", function (event) {
    var option = event.target.closest && event.target.closest(".lookup-option");
    if (!option) return;
    var input = option.closest(".lookup").querySelector(SELECTOR);
    if (!input) return;
    event.preventDefault();
    choose(input, option);
  });

  document.addEventListener("focusout", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches(SELECTOR)) return;
    window.setTimeout(function () {
      if (document.activeElement !== input) closeList(input);
    }, 150);
  });
})();
