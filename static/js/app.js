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

  // The model select: the button shows the chosen model's cost, the credits warning follows
  // it, and the aspect ratio moves to the model's default until the member picks one.
  // Each option carries data-credits and data-ratio (generations/forms.py, ModelSelect).
  function followModel(select) {
    var option = select.options[select.selectedIndex];
    var form = select.form;
    if (!option || !form) return;
    var credits = parseInt(option.getAttribute("data-credits"), 10);
    var cost = form.querySelector("[data-cost]");
    if (cost && !isNaN(credits)) cost.textContent = " · " + credits + " credits";
    var warning = form.querySelector("[data-credits-warning]");
    if (warning && !isNaN(credits)) {
      warning.hidden = !(parseInt(warning.getAttribute("data-balance"), 10) < credits);
      var shown = warning.querySelector("[data-warning-cost]");
      if (shown) shown.textContent = credits;
    }
    var ratio = option.getAttribute("data-ratio");
    if (ratio && !form.hasAttribute("data-ratio-picked")) {
      var radio = form.querySelector('input[name="aspect_ratio"][value="' + ratio + '"]');
      if (radio) radio.checked = true;
    }
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!target.hasAttribute) return;
    if (target.hasAttribute("data-model-select")) followModel(target);
    if (target.name === "aspect_ratio" && target.form) {
      target.form.setAttribute("data-ratio-picked", "");
    }
  });
})();

// Say so when a click got no answer: htmx leaves the page as it was on an error, which would
// look as if nothing happened. The card refresh is left out; it simply tries again.
(function () {
  "use strict";

  function banner() { return document.getElementById("request-error"); }

  function show(event, text) {
    var box = banner();
    if (!box || (event.detail.elt && event.detail.elt.id === "card-refresh")) return;
    box.textContent = text;
    box.hidden = false;
  }

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : "";
    show(event, status === 404
      ? "That image is gone or is not yours to change. Reload the page to see the latest."
      : "The studio could not do that (error " + status + "). Reload the page and try again.");
  });
  document.addEventListener("htmx:sendError", function (event) {
    show(event, "The studio could not be reached. Check your connection and try again.");
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    var box = banner();
    if (box && !(event.detail.elt && event.detail.elt.id === "card-refresh")) box.hidden = true;
  });

  // A plain form that asks first (the detail page's Delete); htmx forms use hx-confirm.
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });
})();

// The history's filter bar (templates/generations/_filter_bar.html): a 400 answer to it carries
// the bar with a message beside each wrong field, so show it instead of the error banner.
(function () {
  "use strict";

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (event.detail.xhr.status === 400 && target && target.id === "history") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
