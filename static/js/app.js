// Imagen Studio: the little the pages need beyond htmx. No inline script (the CSP forbids it).

// The words this script says, in the page's language: templates/base.html hands them over as the
// data-words-* attributes of #script-words (generations/templatetags/studio.py, SCRIPT_WORDS).
// say("seconds", { seconds: 4 }) fills a pattern's %(name)s as Django's gettext does ("4 s").
var studioSay = (function () {
  "use strict";

  return function say(name, values) {
    var holder = document.getElementById("script-words");
    var pattern = holder && holder.getAttribute("data-words-" + name);
    if (!pattern) return "";
    return pattern.replace(/%\((\w+)\)s|%%/g, function (whole, key) {
      if (!key) return "%";
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : whole;
    });
  };
})();

(function () {
  "use strict";

  // The browser's time zone, for the server to show times in when the member saved none
  // (generations/preferences.py checks the name; a page loaded before this is in the site's zone).
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var known = ("; " + document.cookie + ";").indexOf("; time_zone=" + zone + ";") >= 0;
    if (zone && /^[A-Za-z0-9_+\-\/]+$/.test(zone) && !known) {
      document.cookie = "time_zone=" + zone + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (error) { /* an old browser without Intl: the site's zone it is */ }

  // One request refreshes every pending card on the page; none while the tab is hidden
  // or when nothing is pending. The page says what it has (each card's data-version and the
  // banner's data-state) and gets back only what changed, or an empty 204 (views.cards).
  var REFRESH_MS = 1000;
  var inFlight = false;

  function pendingCards() {
    var cards = document.querySelectorAll("[data-pending]");
    return Array.prototype.map.call(cards, function (el) {
      return el.getAttribute("data-pending") + ":" + (el.getAttribute("data-version") || "");
    });
  }

  function refreshCards() {
    var holder = document.getElementById("card-refresh");
    if (!holder || inFlight || document.visibilityState !== "visible" || !window.htmx) return;
    var cards = pendingCards();
    // A shown Rivya banner keeps the refresh going too: its answer takes the banner away.
    var banner = document.getElementById("rivya-banner");
    if (!cards.length && !(banner && !banner.hidden)) return;
    var query = cards.map(function (card) { return "id=" + encodeURIComponent(card); });
    if (banner) query.push("banner=" + encodeURIComponent(banner.getAttribute("data-state") || ""));
    inFlight = true;
    window.htmx.ajax("GET", holder.getAttribute("data-url") + "?" + query.join("&"),
                     { source: holder, swap: "none" })
      .finally(function () { inFlight = false; });
  }

  // What a card shows that moves with the clock ticks here, so an unchanged card needs no
  // answer: [data-seconds] is a number of seconds when the server drew it, counting up, or
  // down with data-ticking="down" (the wait until the next try, whose sentence then becomes
  // its [data-due-text]). Counted from when the element arrived, so the page's own clock
  // may be wrong. Said as generations/templatetags/studio.py's duration() says it.
  var arrived = new WeakMap();

  function duration(seconds) {
    if (seconds < 60) return studioSay("seconds", { seconds: seconds });
    var minutes = Math.floor(seconds / 60);
    seconds = seconds % 60;
    if (minutes < 60) {
      var words = seconds ? "minutes-seconds" : "minutes";
      return studioSay(words, { minutes: minutes, seconds: seconds });
    }
    return studioSay("hours-minutes", { hours: Math.floor(minutes / 60), minutes: minutes % 60 });
  }

  function noteArrival(root) {
    var now = performance.now();
    var found = root.querySelectorAll ? root.querySelectorAll("[data-seconds]") : [];
    Array.prototype.forEach.call(found, function (el) { if (!arrived.has(el)) arrived.set(el, now); });
  }

  function tick() {
    var now = performance.now();
    Array.prototype.forEach.call(document.querySelectorAll("[data-seconds]"), function (el) {
      if (!arrived.has(el)) arrived.set(el, now);
      var passed = Math.floor((now - arrived.get(el)) / 1000);
      var start = parseInt(el.getAttribute("data-seconds"), 10);
      if (isNaN(start)) return;
      if (el.getAttribute("data-ticking") !== "down") {
        el.textContent = duration(start + passed);
        return;
      }
      var note = el.closest("[data-due-text]");
      if (start - passed > 0) el.textContent = duration(start - passed);
      else if (note) note.textContent = note.getAttribute("data-due-text");
    });
  }

  if (window.htmx) window.htmx.onLoad(noteArrival);
  setInterval(function () { tick(); refreshCards(); }, REFRESH_MS);
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

  // The model select and the count: the button shows the whole request's cost (count × the
  // model's credits; the page says "credits each" until this runs), the credits warning
  // follows it, and the aspect ratio moves to the model's default until the member picks one.
  // Each option carries data-credits and data-ratio (generations/forms.py, ModelSelect).
  function imageCount(form) {
    var field = form.querySelector("[data-count]");
    var count = field ? parseInt(field.value, 10) : 1;
    return isNaN(count) || count < 1 ? 1 : count;
  }

  function showCost(form, credits) {
    var cost = form.querySelector("[data-cost]");
    var count = imageCount(form);
    var total = credits * count;
    var words = cost ? cost.getAttribute("data-total") || "" : "";
    if (cost) {
      cost.textContent = count === 1 ? " · " + credits + " " + words
        : " · " + count + " × " + credits + " = " + total + " " + words;
    }
    var warning = form.querySelector("[data-credits-warning]");
    if (warning) {
      warning.hidden = !(parseInt(warning.getAttribute("data-balance"), 10) < total);
      var shown = warning.querySelector("[data-warning-cost]");
      if (shown) shown.textContent = total;
    }
    followBudget(form, total);
  }

  function followModel(select, moveRatio) {
    var option = select.options[select.selectedIndex];
    var form = select.form;
    if (!option || !form) return;
    var credits = parseInt(option.getAttribute("data-credits"), 10);
    if (!isNaN(credits)) showCost(form, credits);
    var ratio = option.getAttribute("data-ratio");
    if (moveRatio && ratio && !form.hasAttribute("data-ratio-picked")) {
      var radio = form.querySelector('input[name="aspect_ratio"][value="' + ratio + '"]');
      if (radio && !radio.checked) {
        radio.checked = true;
        sayRatioMoved(form, option, ratio);
      }
    }
  }

  // A shape that moves by itself is said out loud, beside the shapes (data-says, in the
  // page's language, with {model} and {ratio} to fill).
  function sayRatioMoved(form, option, ratio) {
    var note = form.querySelector("[data-ratio-note]");
    if (!note) return;
    var model = (option.textContent || "").split(" · ")[0];
    note.textContent = note.getAttribute("data-says")
      .replace("{model}", model).split("{ratio}").join(ratio);
  }

  // Ctrl+Enter (Cmd+Enter on a Mac) in the generate form sends it, as in most image tools.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    var form = event.target.closest && event.target.closest("#generate-form");
    if (!form) return;
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    if (button && !button.disabled) form.requestSubmit(button);
  });

  // The generate form is drawn afresh by its answer, and its button is disabled while it is
  // sent: either would drop a keyboard user's focus to the top of the page. Where it was (the
  // prompt after Ctrl+Enter, the button after Enter) is noted as the request leaves.
  var focusedInForm = null;

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt;
    if (!form || form.id !== "generate-form") return;
    var active = document.activeElement;
    focusedInForm = null;
    if (active && form.contains(active)) {
      focusedInForm = active.id ? "#" + CSS.escape(active.id)
        : active.matches("button[type=submit]") ? "button[type=submit]" : null;
    }
  });

  // After an htmx answer to the generate form: on errors, focus goes to the first field that
  // has one; on success, the focus goes back where it was and the new card is brought into
  // view (on a phone the form fills the screen, and nothing on screen would change otherwise).
  document.addEventListener("htmx:afterSettle", function (event) {
    var elt = event.detail.elt;
    if (!elt || elt.id !== "generate-form") return;
    var form = document.getElementById("generate-form");
    var invalid = form && form.querySelector('[data-form-error], [aria-invalid="true"]');
    if (invalid) {
      if (!invalid.matches("input, textarea, select")) invalid.setAttribute("tabindex", "-1");
      invalid.focus();
      return;
    }
    var lost = !document.activeElement || document.activeElement === document.body;
    var again = form && focusedInForm && form.querySelector(focusedInForm);
    if (lost && again) again.focus({ preventScroll: true });
    var card = document.querySelector("#history-list > .card");
    if (card && event.detail.target && event.detail.target.id === "history-list") {
      var still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
      card.scrollIntoView({ behavior: still ? "auto" : "smooth", block: "nearest" });
    }
  });

  // The member's budget beside the button (templates/generations/_budget.html): the warning from
  // data-budget-warn % of the limit, the refusal past the limit, for the chosen cost; the same
  // sums as credits.Standing.near and .over on the server.
  function followBudget(form, cost) {
    var line = form.querySelector("[data-budget-limit]");
    if (!line) return;
    var used = parseInt(line.getAttribute("data-budget-used"), 10) + cost;
    var limit = parseInt(line.getAttribute("data-budget-limit"), 10);
    var over = used > limit;
    var near = !over && used * 100 >= limit * parseInt(line.getAttribute("data-budget-warn"), 10);
    var nearBox = form.querySelector("[data-budget-near]");
    if (nearBox) nearBox.hidden = !near;
    var overBox = form.querySelector("[data-budget-over]");
    if (overBox) {
      overBox.hidden = !over;
      var shown = overBox.querySelector("[data-budget-cost]");
      if (shown) shown.textContent = cost;
    }
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!target.hasAttribute) return;
    if (target.hasAttribute("data-model-select")) followModel(target, true);
    if (target.name === "aspect_ratio" && target.form) {
      target.form.setAttribute("data-ratio-picked", "");
    }
  });

  document.addEventListener("input", function (event) {
    var target = event.target;
    if (!target.hasAttribute || !target.hasAttribute("data-count") || !target.form) return;
    var select = target.form.querySelector("[data-model-select]");
    if (select) followModel(select, false);
  });

  // A form drawn by the server (the page, or a fresh one after Generate) says "credits each";
  // show the whole request's cost in its place at once.
  function showCosts(root) {
    var selects = root.querySelectorAll ? root.querySelectorAll("[data-model-select]") : [];
    Array.prototype.forEach.call(selects, function (select) { followModel(select, false); });
  }

  if (window.htmx) window.htmx.onLoad(showCosts);
  else document.addEventListener("DOMContentLoaded", function () { showCosts(document); });
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
    show(event, status === 404 ? studioSay("gone", {}) : studioSay("refused", { status: status }));
  });
  document.addEventListener("htmx:sendError", function (event) {
    show(event, studioSay("unreachable", {}));
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    var box = banner();
    if (box && !(event.detail.elt && event.detail.elt.id === "card-refresh")) box.hidden = true;
    // A notice such as "Deleted." belongs to the view it was said in: it goes when the
    // history is switched or filtered in place.
    var target = event.detail.target;
    if (target && target.id === "history") {
      Array.prototype.forEach.call(document.querySelectorAll("main > .messages"), function (list) {
        list.remove();
      });
    }
  });

  // A plain form that asks first (the detail page's Delete); htmx forms use hx-confirm.
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  });
})();

// Reuse and undo (issue 11): copy a prompt or seed, and the "Deleted · Undo" that goes away.
(function () {
  "use strict";

  // Each [data-copy] button copies its value and says so in the polite status of its
  // [data-copy-scope]; the words are the button's own (data-copied, data-copy-failed).
  function say(button, text) {
    var scope = button.closest("[data-copy-scope]") || document;
    var status = scope.querySelector("[data-copy-status]");
    if (!status) return;
    status.textContent = text;
    setTimeout(function () { if (status.textContent === text) status.textContent = ""; }, 4000);
  }

  // Without the clipboard API (a page not served over https), a selected textarea and the
  // older copy command still work in every browser we support.
  function copyByHand(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var copied = false;
    try { copied = document.execCommand("copy"); } catch (error) { copied = false; }
    document.body.removeChild(area);
    return copied ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return copyByHand(text); });
    }
    return copyByHand(text);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    copy(button.getAttribute("data-copy")).then(
      function () { say(button, button.getAttribute("data-copied")); },
      function () { say(button, button.getAttribute("data-copy-failed")); }
    );
  });

  // "Deleted · Undo" takes the card's place: Undo gets the focus the Delete button had, and
  // the whole thing goes after data-remove-after seconds (the server refuses an undo by then).
  function expireLater(element) {
    var seconds = parseInt(element.getAttribute("data-remove-after"), 10);
    if (isNaN(seconds)) return;
    var undo = element.querySelector("[data-undo]");
    if (undo) undo.focus();
    setTimeout(function () { if (element.isConnected) element.remove(); }, seconds * 1000);
  }

  function watch(root) {
    if (root.matches && root.matches("[data-remove-after]")) expireLater(root);
    if (root.querySelectorAll) {
      Array.prototype.forEach.call(root.querySelectorAll("[data-remove-after]"), expireLater);
    }
  }

  if (window.htmx) window.htmx.onLoad(watch);

  // A refusal the server put in words (a 400 or 409 in plain text, such as "Too late to undo")
  // is shown as it is, in place of the general "could not do that".
  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var box = document.getElementById("request-error");
    if (!xhr || !box || (xhr.status !== 400 && xhr.status !== 409)) return;
    var type = xhr.getResponseHeader("Content-Type") || "";
    if (type.indexOf("text/plain") !== 0 || !xhr.responseText) return;
    box.textContent = xhr.responseText;
    box.hidden = false;
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

// The lightbox (issue 11, "Look"): a card's image link opens the full image over the page in the
// <dialog id="lightbox"> of templates/generations/_lightbox.html; ← and → walk the links of the
// page's list as it is now (filtered, with cards htmx added since), Esc closes, and the focus
// goes back to the link of the image last shown. Without JavaScript the link is the detail page.
// The dialog's words are in its template (translated there); here only its contents change.
(function () {
  "use strict";

  var LINKS = "a[data-lightbox]";
  var shown = null; // the href (detail page) of the image shown: a card htmx replaced is found again

  function dialog() { return document.getElementById("lightbox"); }

  function links() { return Array.prototype.slice.call(document.querySelectorAll(LINKS)); }

  function linkFor(href) {
    return links().filter(function (link) { return link.getAttribute("href") === href; })[0] || null;
  }

  function part(box, name) { return box.querySelector("[data-lightbox-" + name + "]"); }

  // At the ends of the list the arrow buttons stay focusable (a disabled button would drop the
  // focus out of the dialog) and say they do nothing with aria-disabled.
  function markEnds(box, index, count) {
    part(box, "previous").setAttribute("aria-disabled", String(index <= 0));
    part(box, "next").setAttribute("aria-disabled", String(index >= count - 1));
  }

  function show(box, link) {
    var all = links();
    var picture = link.querySelector("img");
    var image = part(box, "image");
    shown = link.getAttribute("href");
    image.src = link.getAttribute("data-lightbox");
    image.alt = picture ? picture.alt : "";
    part(box, "prompt").textContent = link.getAttribute("data-lightbox-prompt") || "";
    part(box, "who").textContent = link.getAttribute("data-lightbox-who") || "";
    part(box, "detail").href = shown;
    markEnds(box, all.indexOf(link), all.length);
  }

  function step(box, by) {
    var all = links();
    var index = all.indexOf(linkFor(shown));
    if (index < 0) return; // its card is gone (deleted, or the list was swapped): stay put
    var next = all[index + by];
    if (next) show(box, next);
  }

  function open(link) {
    var box = dialog();
    if (!box || typeof box.showModal !== "function") return false;
    show(box, link);
    if (!box.open) box.showModal();
    return true;
  }

  function plainClick(event) {
    return event.button === 0 && !(event.ctrlKey || event.metaKey || event.shiftKey || event.altKey);
  }

  // Enter on a focused link is a click; Space is not, so it is taken here as well.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(LINKS);
    if (link && plainClick(event) && open(link)) event.preventDefault();
  });
  document.addEventListener("keydown", function (event) {
    var link = event.key === " " && event.target.matches && event.target.matches(LINKS);
    if (link && open(event.target)) event.preventDefault();
  });

  function onDialogKey(event) {
    var box = event.currentTarget;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
      event.preventDefault();
      step(box, event.key === "ArrowLeft" ? -1 : 1);
    }
  }

  function onDialogClick(event) {
    var box = event.currentTarget;
    if (event.target === box || event.target.closest("[data-lightbox-close]")) box.close();
    else if (event.target.closest("[data-lightbox-previous]")) step(box, -1);
    else if (event.target.closest("[data-lightbox-next]")) step(box, 1);
  }

  // The dialog puts the focus back where it was when it opened; after ← and → the member is
  // at another image, so the focus goes to that image's link instead (and the page scrolls to it).
  function onDialogClose(event) {
    var link = shown && linkFor(shown);
    part(event.currentTarget, "image").removeAttribute("src");
    shown = null;
    if (link) link.focus();
  }

  function wire() {
    var box = dialog();
    if (!box || box.hasAttribute("data-wired")) return;
    box.setAttribute("data-wired", "");
    box.addEventListener("keydown", onDialogKey);
    box.addEventListener("click", onDialogClick);
    box.addEventListener("close", onDialogClose);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();

// Screen readers hear once, politely, when a card this page was waiting for is done or failed
// (#announcer); the cards themselves are not live regions, as their elapsed time ticks.
(function () {
  "use strict";

  var waiting = {};

  function note(root) {
    var cards = [];
    if (root.matches && root.matches("article.card")) cards.push(root);
    if (root.querySelectorAll) {
      Array.prototype.push.apply(cards, root.querySelectorAll("article.card"));
    }
    cards.forEach(function (card) {
      if (card.hasAttribute("data-pending")) {
        waiting[card.id] = true;
      } else if (waiting[card.id] && card.hasAttribute("data-announce")) {
        delete waiting[card.id];
        var announcer = document.getElementById("announcer");
        if (announcer) announcer.textContent = card.getAttribute("data-announce");
      }
    });
  }

  if (window.htmx) window.htmx.onLoad(note);
})();

// A keyboard user's focus through htmx swaps: a control that htmx draws again (the star, an
// "Add to board" menu, a card that moved on or came back from "Undo") would leave the focus on
// the page's top. Before a swap that holds the focus, note the nearest part with an id that
// will still be there (the swapped element, or the card around it) and the control's place in
// it; after, focus the same control again: the same id, else the same words, else the same place
// when the part kept its shape, else the part's first control.
(function () {
  "use strict";

  var CONTROLS = "a[href], button:not([disabled]), summary, input:not([type=hidden]), select, "
    + "textarea";
  var kept = null;

  function controls(part) {
    return Array.prototype.filter.call(part.querySelectorAll(CONTROLS), function (el) {
      return el.getClientRects().length > 0;
    });
  }

  function words(el) { return (el.textContent || "").trim() + "|" + el.tagName; }

  function note(event) {
    var swapped = event.detail.target;
    var active = document.activeElement;
    if (!swapped || !active || active === document.body || !swapped.contains(active)) return;
    var around = swapped.parentElement && swapped.parentElement.closest("[id]");
    var part = swapped.id ? swapped : around;
    if (!part || part.id === "generate-form") return; // the form has its own (above)
    var all = controls(part);
    kept = {
      part: part.id, id: active.id, words: words(active), at: all.indexOf(active), of: all.length
    };
  }

  function focusAgain() {
    var wanted = kept;
    kept = null;
    var part = wanted && document.getElementById(wanted.part);
    var lost = !document.activeElement || document.activeElement === document.body;
    if (!part || !lost) return;
    var all = controls(part);
    var same = (wanted.id && document.getElementById(wanted.id))
      || all.filter(function (el) { return words(el) === wanted.words; })[0]
      || (all.length === wanted.of ? all[wanted.at] : null)
      || all[0];
    if (same) same.focus({ preventScroll: true });
  }

  document.addEventListener("htmx:beforeSwap", note);
  document.addEventListener("htmx:oobBeforeSwap", note);
  document.addEventListener("htmx:afterSettle", focusAgain);
})();
