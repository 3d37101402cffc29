// Airlock console behaviour that htmx does not cover. No inline scripts anywhere:
// the Content-Security-Policy allows scripts from this origin only.
(function () {
  "use strict";

  // Copy buttons: <button data-copy="#input-id">Copy</button>.
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-copy]");
    if (!btn) return;
    var src = document.querySelector(btn.getAttribute("data-copy"));
    if (!src) return;
    var text = src.value !== undefined ? src.value : src.textContent;
    var done = function () {
      var label = btn.textContent;
      btn.textContent = "Copied";
      btn.setAttribute("aria-live", "polite");
      setTimeout(function () { btn.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { src.select && src.select(); });
    } else if (src.select) {
      src.select();
      document.execCommand("copy");
      done();
    }
  });

  // "Copy as curl" on a trace step: <button data-request="{json}" data-curl-out="#id">.
  // The values are the trace's, masked ones stay masked; the command is
  // also shown (selected) for when the clipboard is not available.
  var sq = function (s) { return "'" + String(s).replace(/'/g, "'\\''") + "'"; };
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest("[data-curl-out]");
    if (!btn) return;
    var r;
    try { r = JSON.parse(btn.getAttribute("data-request")); } catch (e) { return; }
    var parts = ["curl", "-X", r.method || "GET", sq(r.url)];
    (r.headers || []).forEach(function (h) { parts.push("-H", sq(h[0] + ": " + h[1])); });
    if (r.body) parts.push("--data-raw", sq(r.body));
    var cmd = parts.join(" ");
    var out = document.querySelector(btn.getAttribute("data-curl-out"));
    if (out) { out.value = cmd; out.hidden = false; out.select(); }
    var label = btn.textContent;
    var done = function () {
      btn.textContent = "Copied";
      setTimeout(function () { btn.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(cmd).then(done, function () {});
  });

  // Confirmation for destructive forms: <form data-confirm="Delete …?">.
  document.addEventListener("submit", function (ev) {
    var form = ev.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) {
      ev.preventDefault();
      ev.stopImmediatePropagation();
    }
  }, true);

  // The builder's live preview names a missing field only once the person
  // has been in it: each field left is added to the form's _touched list
  // (in the capture phase, before htmx reads the form for the preview).
  document.addEventListener("focusout", function (ev) {
    var el = ev.target, form = el && el.form;
    if (!form || form.id !== "integration-form" || !el.name || el.name === "_touched") return;
    var t = form.querySelector("#touched-fields");
    if (!t) return;
    var names = t.value ? t.value.split(",") : [];
    if (names.indexOf(el.name) < 0) names.push(el.name);
    t.value = names.join(",");
  }, true);

  // A page rendered with errors puts the keyboard on the first field to fix,
  // so screen readers announce it with its message.
  document.addEventListener("DOMContentLoaded", function () {
    var err = document.querySelector("[aria-invalid=true]");
    if (err && typeof err.focus === "function") err.focus();
  });

  // After htmx swaps in content, move focus to the first error so keyboard and
  // screen-reader users land on what needs fixing.
  document.addEventListener("htmx:afterSwap", function (ev) {
    var err = ev.detail.target.querySelector("[aria-invalid=true], .alert.error");
    if (err && typeof err.focus === "function") {
      if (!err.hasAttribute("tabindex") && !/INPUT|SELECT|TEXTAREA/.test(err.tagName)) err.setAttribute("tabindex", "-1");
      err.focus();
    }
  });
})();
