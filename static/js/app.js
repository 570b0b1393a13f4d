// Behaviour shared by every page: the session-expiry warning, the menu toggle on phones and
// the error summary of a refused form. No framework; htmx events where htmx is on the page.
(function () {
  "use strict";
  var WARN_BEFORE_SECONDS = 120;

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function setupSession(body) {
    var seconds = parseInt(body.dataset.sessionSeconds || "0", 10);
    if (!seconds) return;
    var warning = document.getElementById("session-warning");
    var expired = document.getElementById("session-expired");
    var warnTimer = null;
    var expireTimer = null;

    function showExpired() {
      warning.hidden = true;
      expired.hidden = false;
    }
    function restart() {
      clearTimeout(warnTimer);
      clearTimeout(expireTimer);
      warning.hidden = true;
      var warnIn = Math.max(seconds - WARN_BEFORE_SECONDS, seconds / 2);
      warnTimer = setTimeout(function () { warning.hidden = false; }, warnIn * 1000);
      expireTimer = setTimeout(showExpired, seconds * 1000);
    }
    document.getElementById("stay-signed-in").addEventListener("click", function () {
      fetch(body.dataset.keepaliveUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken() },
      }).then(function (response) {
        if (response.status === 204) restart(); else showExpired();
      }, showExpired);
    });
    document.body.addEventListener("htmx:afterRequest", function (event) {
      var xhr = event.detail && event.detail.xhr;
      if (xhr && xhr.status && xhr.status < 400 && xhr.getResponseHeader("HX-Trigger") !== "session-expired") restart();
    });
    document.body.addEventListener("session-expired", showExpired);
    restart();
  }

  function setupNav() {
    var toggle = document.getElementById("nav-toggle");
    if (!toggle) return;
    toggle.addEventListener("click", function () {
      var open = document.getElementById("topbar").classList.toggle("nav-open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }

  function setupErrorSummary() {
    var summary = document.getElementById("error-summary");
    if (!summary) return;
    summary.scrollIntoView({ block: "start" });
    summary.focus({ preventScroll: true });
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[data-focus]");
      if (!link) return;
      var input = document.getElementById(link.dataset.focus);
      if (input) setTimeout(function () { input.focus({ preventScroll: true }); }, 0);
    });
  }

  // A select marked data-autosubmit submits its form on change (no inline handlers: CSP).
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (field.matches && field.matches("[data-autosubmit]") && field.form) field.form.submit();
  });

  // The visit's status badge follows the attempts list that htmx swaps in.
  function setupVisitStatus() {
    document.body.addEventListener("htmx:afterSettle", function () {
      var attempts = document.getElementById("attempts");
      var badge = document.getElementById("visit-status");
      if (attempts && badge && attempts.dataset.visitStatus) badge.textContent = attempts.dataset.visitStatus;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupVisitStatus();
    setupSession(document.body);
    setupNav();
    setupErrorSummary();
  });
})();
