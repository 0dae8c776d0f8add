/*
 * The shop's behaviour tracker: window.shopTracker.track(type, props).
 *
 * Privacy first: it does NOTHING (no storage, no requests) unless the shopper accepted tracking
 * (cookie tracking_consent=yes) and the browser does not send Do-Not-Track / Global Privacy
 * Control. The server checks the same again: POST /api/events/ refuses events without consent.
 *
 * Events are batched in memory and sent to POST /api/events/ as {"events": [...]}, each with a
 * client-generated UUID (the server's idempotency key: a resent batch is never stored twice).
 * A batch is flushed every 5 seconds, at 20 events, and with navigator.sendBeacon when the page
 * is hidden or left. The user is taken from the session by the server, never sent from here.
 */
(function () {
  "use strict";

  var ENDPOINT = "/api/events/";
  var FLUSH_INTERVAL_MS = 5000;
  var FLUSH_AT = 20;
  var MAX_QUEUE = 500; // a shopper offline for a long time cannot grow memory without bound
  var CHUNK = 50; // events per request: ~20 KB, well under the 64 KB beacon/keepalive limit
  var STORAGE_KEY = "shop_anonymous_id";
  var ALLOWED_PROP_KEYS = 50;

  var queue = [];
  var timer = null;

  function readCookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === name) return decodeURIComponent(parts[i].slice(eq + 1));
    }
    return null;
  }

  function doNotTrack() {
    return navigator.doNotTrack === "1" || window.doNotTrack === "1" || navigator.globalPrivacyControl === true;
  }

  function allowed() {
    return readCookie("tracking_consent") === "yes" && !doNotTrack();
  }

  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    var bytes = new Uint8Array(16);
    if (window.crypto && window.crypto.getRandomValues) {
      window.crypto.getRandomValues(bytes);
    } else {
      for (var i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  function forgetAnonymousId() {
    try { window.localStorage.removeItem(STORAGE_KEY); } catch (e) { /* storage blocked */ }
  }

  function anonymousId() {
    var id = null;
    try {
      id = window.localStorage.getItem(STORAGE_KEY);
      if (!id) {
        id = uuid();
        window.localStorage.setItem(STORAGE_KEY, id);
      }
    } catch (e) {
      id = id || "";
    }
    return id || "";
  }

  /* Where the shopper came from, without query string or fragment: those can carry other
     sites' tokens or personal data that the shop has no business keeping. */
  function referrerWithoutQuery() {
    if (!document.referrer) return "";
    try {
      var u = new URL(document.referrer);
      return (u.origin + u.pathname).slice(0, 500);
    } catch (e) {
      return "";
    }
  }

  function toInt(value) {
    var n = parseInt(value, 10);
    return isNaN(n) ? null : n;
  }

  /* Split props into the event's own fields (product_id, query) and free-form properties. */
  function buildEvent(type, props) {
    props = props || {};
    var event = {
      id: uuid(),
      type: type,
      occurred_at: new Date().toISOString(),
      anonymous_id: anonymousId(),
      properties: {}
    };
    var keys = 0;
    for (var key in props) {
      if (!Object.prototype.hasOwnProperty.call(props, key)) continue;
      if (key === "product_id") {
        var pid = toInt(props[key]);
        if (pid !== null) event.product_id = pid;
      } else if (key === "query") {
        event.query = String(props[key]).slice(0, 255);
      } else if (keys < ALLOWED_PROP_KEYS) {
        event.properties[key] = props[key];
        keys++;
      }
    }
    event.properties.path = event.properties.path || window.location.pathname;
    return event;
  }

  function sendWithFetch(batch) {
    var headers = { "Content-Type": "application/json" };
    var csrf = readCookie("csrftoken");
    if (csrf) headers["X-CSRFToken"] = csrf;
    return fetch(ENDPOINT, {
      method: "POST",
      mode: "same-origin",
      credentials: "same-origin",
      keepalive: true,
      headers: headers,
      body: JSON.stringify({ events: batch })
    }).then(function (response) {
      // 4xx means the server will never take these (consent withdrawn, bad data): drop them.
      // Network errors and 5xx: put them back; the ids make a resend safe.
      if (response.status >= 500) requeue(batch);
      return response;
    }).catch(function () { requeue(batch); });
  }

  function requeue(batch) {
    if (!allowed()) return;
    queue = batch.concat(queue).slice(0, MAX_QUEUE);
  }

  function flush(useBeacon) {
    if (!queue.length) return;
    if (!allowed()) { queue = []; return; }
    var pending = queue.splice(0, queue.length);
    // Beacons and keepalive requests are capped at 64 KB in flight: send in modest chunks.
    for (var start = 0; start < pending.length; start += CHUNK) {
      var batch = pending.slice(start, start + CHUNK);
      if (useBeacon && navigator.sendBeacon) {
        // text/plain keeps the beacon a "simple" request; the server parses the JSON itself.
        var blob = new Blob([JSON.stringify({ events: batch })], { type: "text/plain;charset=UTF-8" });
        if (navigator.sendBeacon(ENDPOINT, blob)) continue;
      }
      sendWithFetch(batch);
    }
  }

  function track(type, props) {
    if (!allowed()) {
      queue = [];
      forgetAnonymousId();
      return false;
    }
    queue.push(buildEvent(type, props));
    if (queue.length > MAX_QUEUE) queue.shift();
    if (queue.length >= FLUSH_AT) flush(false);
    if (timer === null) timer = window.setInterval(function () { flush(false); }, FLUSH_INTERVAL_MS);
    return true;
  }

  window.shopTracker = {
    track: track,
    flush: function () { flush(false); },
    allowed: allowed,
    pending: function () { return queue.length; }
  };

  function onLeave() { flush(true); }
  window.addEventListener("pagehide", onLeave);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") onLeave();
  });

  /* Automatic events: page views, product views, searches, cart changes, checkout start. */
  function autoTrack() {
    if (!allowed()) { forgetAnonymousId(); return; }
    var body = document.body;
    var page = body.getAttribute("data-page") || "other";
    track("page_view", { page: page, title: document.title.slice(0, 200), referrer: referrerWithoutQuery() });
    if (page === "product" && body.getAttribute("data-product-id")) {
      track("product_view", { product_id: body.getAttribute("data-product-id") });
    }
    if (page === "search" && body.getAttribute("data-query")) {
      track("search", { query: body.getAttribute("data-query"), results: document.querySelectorAll(".product-grid .product-card").length });
    }
    if (page === "checkout") {
      track("checkout_start", {});
      var anon = document.querySelector("#checkout-form input[name=anonymous_id]");
      if (anon) anon.value = anonymousId();
    }

    document.addEventListener("submit", function (e) {
      var form = e.target;
      var kind = form && form.getAttribute && form.getAttribute("data-track");
      if (!kind) return;
      var productId = form.getAttribute("data-product-id");
      var qtyInput = form.querySelector("input[name=quantity]");
      var qty = qtyInput ? toInt(qtyInput.value) : null;
      if (kind === "add_to_cart") {
        track("add_to_cart", { product_id: productId, quantity: qty || 1 });
      } else if (kind === "remove_from_cart") {
        track("remove_from_cart", { product_id: productId, quantity: toInt(form.getAttribute("data-quantity")) || 1 });
      } else if (kind === "set_quantity" && qty !== null) {
        // A quantity change is an add or a remove of the difference.
        var before = toInt(form.getAttribute("data-quantity")) || 0;
        if (qty > before) track("add_to_cart", { product_id: productId, quantity: qty - before });
        if (qty < before) track("remove_from_cart", { product_id: productId, quantity: before - qty });
      }
      // The page is about to be left: send now rather than wait for pagehide.
      flush(true);
    }, true);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", autoTrack);
  } else {
    autoTrack();
  }
})();
