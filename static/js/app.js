// Statuslink admin: small behaviours on top of htmx. No inline scripts anywhere (strict CSP).
(function () {
  "use strict";

  function showToast(text) {
    var region = document.getElementById("toasts");
    if (!region) return;
    var toast = document.createElement("div");
    toast.className = "toast";
    toast.setAttribute("role", "alert");
    var message = document.createElement("p");
    message.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.textContent = "\u00d7";
    close.setAttribute("aria-label", document.body.dataset.msgClose || "Close");
    close.addEventListener("click", function () { toast.remove(); });
    toast.appendChild(message);
    toast.appendChild(close);
    region.appendChild(toast);
    window.setTimeout(function () { toast.remove(); }, 10000);
  }

  // htmx does not swap error responses; tell the user instead of failing silently.
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : "";
    var template = document.body.dataset.msgRequestFailed || "Request failed ({status}).";
    showToast(template.replace("{status}", status));
  });
  document.addEventListener("htmx:sendError", function () {
    showToast(document.body.dataset.msgOffline || "The server cannot be reached.");
  });

  // Dropdown menus (<details>): close on Escape and on a click outside.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.dropdown[open]").forEach(function (menu) {
      menu.removeAttribute("open");
      var summary = menu.querySelector("summary");
      if (summary) summary.focus();
    });
  });
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.dropdown[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
  // Copy buttons: <button data-copy="#input-id" data-copied="Copied">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-copy]") : null;
    if (!button) return;
    var field = document.querySelector(button.dataset.copy);
    if (!field) return;
    var done = function () {
      var label = button.textContent;
      button.textContent = button.dataset.copied || label;
      window.setTimeout(function () { button.textContent = label; }, 2000);
    };
    field.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, function () {
        document.execCommand("copy");
        done();
      });
    } else {
      document.execCommand("copy");
      done();
    }
  });
})();
