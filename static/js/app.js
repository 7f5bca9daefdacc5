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
