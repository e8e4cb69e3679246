// Statuslink template editor: placeholder picker, jump to a problem's line, the sandboxed
// HTML preview frame. Loaded only by the editor page; no inline scripts (strict CSP).
(function () {
  "use strict";

  var form = document.getElementById("template-editor");
  if (!form) return;
  var lastField = null;
  var partFields = { subject: "subject", html: "body_html", text: "body_text", sms: "body_text" };

  form.addEventListener("focusin", function (event) {
    if (event.target.matches("[data-placeholder-target]")) lastField = event.target;
  });

  function insertAtCursor(field, text) {
    var start = field.selectionStart || 0;
    var end = field.selectionEnd || start;
    field.setRangeText(text, start, end, "end");
    field.focus();
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function selectLine(field, line) {
    var lines = field.value.split("\n");
    var index = Math.max(0, Math.min(lines.length, line) - 1);
    var start = 0;
    for (var i = 0; i < index; i++) start += lines[i].length + 1;
    field.focus();
    field.setSelectionRange(start, start + lines[index].length);
    if (field.tagName === "TEXTAREA") {
      var lineHeight = parseFloat(window.getComputedStyle(field).lineHeight) || 20;
      field.scrollTop = Math.max(0, (index - 2) * lineHeight);
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-insert]");
    if (button) {
      event.preventDefault();
      var field = lastField || form.querySelector("[data-placeholder-target]");
      if (field) insertAtCursor(field, button.dataset.insert);
      return;
    }
    var problem = event.target.closest("[data-part]");
    if (problem) {
      var target = document.getElementById(partFields[problem.dataset.part] || "");
      if (target) {
        var line = parseInt(problem.dataset.line, 10);
        if (line > 0) selectLine(target, line); else target.focus();
      }
    }
  });

  // The HTML preview lives in an <iframe sandbox>; the form posts the unsaved texts into it.
  // Once the form is being saved the page is leaving: submitting it again (to the frame) would
  // replace the planned Save navigation, so a late preview reply leaves the frame alone.
  var leaving = false;
  form.addEventListener("submit", function (event) {
    var submitter = event.submitter;
    if (!event.defaultPrevented && !(submitter && submitter.id === "preview-submit")) leaving = true;
  });
  window.addEventListener("pageshow", function () { leaving = false; });
  function refreshFrame() {
    var button = document.getElementById("preview-submit");
    if (leaving || !button || typeof form.requestSubmit !== "function") return;
    form.requestSubmit(button);
  }
  form.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.elt === form && event.detail.successful) refreshFrame();
  });
  refreshFrame();

  // Choosing another variant opens it at once.
  document.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
    select.addEventListener("change", function () { select.form.requestSubmit(); });
  });
})();
