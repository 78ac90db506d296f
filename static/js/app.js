// Imagen Studio: the little the pages need beyond htmx. No inline script (the CSP forbids it).
(function () {
  "use strict";

  // One request refreshes every pending card on the page; none while the tab is hidden
  // or when nothing is pending.
  var REFRESH_MS = 1000;
  var inFlight = false;

  function pendingIds() {
    var cards = document.querySelectorAll("[data-pending]");
    return Array.prototype.map.call(cards, function (el) { return el.getAttribute("data-pending"); });
  }

  function refreshCards() {
    var holder = document.getElementById("card-refresh");
    if (!holder || inFlight || document.visibilityState !== "visible" || !window.htmx) return;
    var ids = pendingIds();
    if (!ids.length) return;
    var query = ids.map(function (id) { return "id=" + encodeURIComponent(id); }).join("&");
    inFlight = true;
    window.htmx.ajax("GET", holder.getAttribute("data-url") + "?" + query,
                     { source: holder, swap: "none" })
      .finally(function () { inFlight = false; });
  }

  setInterval(refreshCards, REFRESH_MS);
  document.addEventListener("visibilitychange", refreshCards);

  // The prompt's live character counter.
  function updateCounter(field) {
    var counter = document.getElementById(field.getAttribute("data-counter"));
    if (!counter) return;
    var max = field.getAttribute("maxlength");
    counter.textContent = field.value.length + " / " + max;
    counter.classList.toggle("near-limit", field.value.length > max * 0.9);
  }

  document.addEventListener("input", function (event) {
    if (event.target.hasAttribute && event.target.hasAttribute("data-counter")) {
      updateCounter(event.target);
    }
  });
})();
