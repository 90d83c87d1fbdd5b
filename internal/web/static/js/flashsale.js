// Flash sales: enhances the server-rendered pages. Without this file the
// pages work as they are: the countdown is text, the claim button a form,
// and a claim shed under overload renders a queue page that refreshes.
// With it, the countdown ticks, and the claim button claims through the
// JSON API and retries by itself after retry_after_ms, showing the queue.
(function () {
  "use strict";

  // The page's words: the server writes them, in the page's language, in
  // data-t-* attributes (the countdown's on [data-sale-text], the claim's
  // on its form), with "{1}" and "{2}" where the numbers go. This file has
  // no words of its own; without one it leaves the text as is.
  var wordsOf = function (el) {
    return function (name, a, b) {
      var f = el && el.getAttribute("data-t-" + name);
      if (!f) return "";
      return f.split("{1}").join(String(a)).split("{2}").join(String(b));
    };
  };
  var say = wordsOf(document.querySelector("[data-sale-text]"));

  // The countdowns: the server's time and the target are in the page, so
  // a wrong clock on this device does not move the target.
  var counters = document.querySelectorAll("[data-countdown]");
  if (counters.length) {
    var first = counters[0];
    var skew = Date.parse(first.getAttribute("data-now")) - Date.now();
    var reloaded = false;
    var text = function (ms) {
      var s = Math.max(0, Math.ceil(ms / 1000));
      var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
      var pad = function (n) { return n < 10 ? "0" + n : "" + n; };
      if (d > 0) return say(d === 1 ? "day" : "days", d, h);
      if (h > 0) return say("hours", h, pad(m));
      if (m > 0) return say("minutes", m, pad(sec));
      return say("seconds", sec);
    };
    var tick = function () {
      var now = Date.now() + skew, due = false;
      counters.forEach(function (el) {
        var left = Date.parse(el.getAttribute("data-countdown")) - now;
        var t = text(left);
        if (t) el.textContent = t;
        if (left <= 0) due = true;
      });
      // The sale started or ended: the server says what it looks like now.
      // A small random delay spreads the crowd's reloads.
      if (due && !reloaded) {
        reloaded = true;
        setTimeout(function () { location.reload(); }, 300 + Math.random() * 1200);
      }
    };
    tick();
    setInterval(tick, 1000);
  }

  var form = document.querySelector("form.sale-claim[data-claim]");
  var status = document.getElementById("sale-status");
  if (!form || !status || !window.fetch) return;
  say = wordsOf(form);
  var button = form.querySelector("button[type=submit]");
  var key = "";
  var timer = 0;
  // The sentences for the API's refusals, by error code.
  var refusals = {};
  try { refusals = JSON.parse(form.getAttribute("data-t-errors") || "{}") || {}; } catch (e) { refusals = {}; }
  // The API answers in English: its own sentence is the exact one on an
  // English page, when the page has none for the code.
  var english = /^en\b/.test(document.documentElement.lang || "");

  var show = function (msg, isError) {
    status.hidden = false;
    status.textContent = msg;
    status.classList.toggle("is-error", !!isError);
  };
  var idle = function () {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  };
  // checkout hands the claim's cart to the storefront, which makes it the
  // cart of this market and goes to checkout (a form post, so the cookie
  // is set by the server, never by script).
  var checkout = function (claim) {
    var f = document.createElement("form");
    f.method = "post";
    f.action = form.getAttribute("data-checkout");
    [["claim_id", claim.claim_id], ["cart_token", claim.cart_token]].forEach(function (kv) {
      var i = document.createElement("input");
      i.type = "hidden";
      i.name = kv[0];
      i.value = kv[1];
      f.appendChild(i);
    });
    document.body.appendChild(f);
    f.submit();
  };
  var claim = function () {
    var qty = parseInt((form.elements.quantity || {}).value || "1", 10) || 1;
    fetch(form.getAttribute("data-claim"), {
      method: "POST",
      credentials: "same-origin",
      // The same key on every retry of one click: a claim that succeeded
      // but whose answer was lost is answered again, not made twice.
      headers: { "Content-Type": "application/json", "Accept": "application/json", "Idempotency-Key": key },
      body: JSON.stringify({ quantity: qty })
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (body) {
        if (res.status === 201) {
          show(say("claimed"));
          checkout(body);
          return;
        }
        var err = body.error || {};
        if (res.status === 503) {
          var ms = err.retry_after_ms || parseInt(res.headers.get("Retry-After-Ms") || "", 10) || 2000;
          var secs = Math.max(1, Math.ceil(ms / 1000));
          show(say(secs === 1 ? "queue-one" : "queue", secs));
          timer = setTimeout(claim, ms);
          return;
        }
        idle();
        if (res.status === 401) {
          show(say("session"), true);
          return;
        }
        show(refusals[err.code] || (english && err.message) || say("failed"), true);
      });
    }, function () {
      // The network failed: the same click tries again shortly.
      show(say("offline"));
      timer = setTimeout(claim, 2000 + Math.random() * 1000);
    });
  };
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (timer) clearTimeout(timer);
    key = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random();
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    show(say("claiming"));
    claim();
  });
})();
