/*
 * The shop's behaviour tracker: window.shopTracker.track(type, props).
 *
 * Privacy first: it does NOTHING (no storage, no requests) unless the shopper accepted tracking
 * (cookie tracking_consent=yes) and the browser does not send Do-Not-Track / Global Privacy
 * Control. The server checks the same again: POST /api/events/ refuses events without consent.
 * When consent is withdrawn the queue, the anonymous id and the retry state are deleted.
 *
 * It keeps events until the server has acknowledged them:
 * - The queue lives in localStorage (shop_event_queue), so events survive navigation, reloads and
 *   an outage; it holds at most 500 events and drops the OLDEST when full.
 * - Events go to POST /api/events/ as {"events": [...]}, at most 50 per request, each with a
 *   client-generated UUID: the server's idempotency key, so resending is always safe.
 * - A batch leaves the queue only when the server answered it: 200 (accepted, duplicates and the
 *   items it rejected one by one are all final), or a definitive 400/403/413 refusal. 413 first
 *   splits the batch; a 400 that lists per-item errors drops only those items.
 * - Network errors, timeouts, 5xx, 408 and 429 keep the batch and retry with exponential backoff
 *   and jitter; a Retry-After header (429, 503) is honoured, across page loads and tabs.
 * - When the page is hidden or left the queue also goes out with navigator.sendBeacon, whose
 *   result is unknown: beaconed events stay queued (marked) and are sent again by fetch on the
 *   next page; the server counts the second copy as a duplicate.
 * - One tab sends at a time (a lock with expiry in localStorage); a lost lock costs a duplicate.
 *
 * The user is taken from the session by the server, never sent from here. No inline script is
 * needed; tests may set window.shopTrackerConfig (delays in ms) before this file runs.
 */
(function () {
  "use strict";

  var config = window.shopTrackerConfig || {};
  var ENDPOINT = "/api/events/";
  var FLUSH_DELAY_MS = config.flushDelayMs || 5000; // batch what a page records in its first seconds
  var RESUME_DELAY_MS = config.resumeDelayMs || 1000; // events left by the previous page
  var BACKOFF_BASE_MS = config.backoffBaseMs || 2000;
  var BACKOFF_MAX_MS = config.backoffMaxMs || 300000; // five minutes between attempts at most
  var RETRY_AFTER_MAX_MS = 3600000; // a Retry-After beyond an hour is taken as an hour
  var REQUEST_TIMEOUT_MS = 15000;
  var LOCK_MS = 20000; // longer than a request may take (timeout above), so one tab sends at a time
  var FLUSH_AT = 20;
  var MAX_QUEUE = 500; // a shopper offline for a long time cannot grow storage without bound
  var CHUNK = 50; // events per request: ~20 KB, well under the 64 KB beacon/keepalive limit
  var KEEPALIVE_MAX_BYTES = 60000; // browsers reject a keepalive fetch over 64 KB outright
  var STORAGE_KEY = "shop_anonymous_id";
  var QUEUE_KEY = "shop_event_queue";
  var RETRY_KEY = "shop_event_retry";
  var LOCK_KEY = "shop_event_lock";
  var ALLOWED_PROP_KEYS = 50;
  // The last viewed product ids, newest first, for the server's "Recommended for you" on the next
  // page (recommendations.selectors.recent_views_from). Kept here so rendering a page writes nothing.
  var RECENT_VIEWS_COOKIE = "recent_views";
  var RECENT_VIEWS_MAX = 10;
  var RECENT_VIEWS_MAX_AGE_S = 30 * 24 * 3600;

  var memoryQueue = []; // only when localStorage is unavailable (blocked, full)
  var timer = null;
  var timerAt = 0;
  var sending = false;
  var chunkSize = CHUNK;
  var tabId = Math.random().toString(36).slice(2) + Date.now().toString(36);

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

  function rememberView(productId) {
    var pid = toInt(productId);
    if (pid === null) return;
    var ids = (readCookie(RECENT_VIEWS_COOKIE) || "").split(".").filter(function (p) {
      return /^[0-9]{1,12}$/.test(p) && Number(p) !== pid;
    });
    ids.unshift(String(pid));
    document.cookie = RECENT_VIEWS_COOKIE + "=" + ids.slice(0, RECENT_VIEWS_MAX).join(".") +
      "; path=/; max-age=" + RECENT_VIEWS_MAX_AGE_S + "; samesite=lax" +
      (window.location.protocol === "https:" ? "; secure" : "");
  }

  /* One recommendation_impression per recommended item the page shows (the server renders them
     and writes nothing; see recommendations/templatetags/recommendations_tags.py). */
  function trackImpressions() {
    var sections = document.querySelectorAll("[data-recommendation-slot]");
    for (var i = 0; i < sections.length; i++) {
      var slot = sections[i].getAttribute("data-recommendation-slot");
      var cards = sections[i].querySelectorAll("article[data-product-id]");
      for (var j = 0; j < cards.length; j++) {
        var version = toInt(cards[j].getAttribute("data-model-version"));
        var position = toInt(cards[j].getAttribute("data-position"));
        track("recommendation_impression", {
          product_id: cards[j].getAttribute("data-product-id"),
          slot: slot,
          position: position === null ? j : position,
          model_version: version
        });
      }
    }
  }

  /* Consent withdrawn (or never given): nothing of the tracker's may stay in the browser. */
  function forgetEverything() {
    memoryQueue = [];
    if (readCookie(RECENT_VIEWS_COOKIE) !== null) {
      document.cookie = RECENT_VIEWS_COOKIE + "=; path=/; max-age=0; samesite=lax";
    }
    if (timer !== null) { window.clearTimeout(timer); timer = null; }
    try {
      [STORAGE_KEY, QUEUE_KEY, RETRY_KEY, LOCK_KEY].forEach(function (key) {
        window.localStorage.removeItem(key);
      });
    } catch (e) { /* storage blocked */ }
  }

  /* ---- the persistent queue: [{e: event, b: time of the last beacon or 0}], oldest first.
     Every change re-reads storage in the same JS turn, so other tabs' additions are kept. */

  function readJson(key, fallback) {
    try {
      var raw = window.localStorage.getItem(key);
      return raw ? JSON.parse(raw) : fallback;
    } catch (e) {
      return fallback;
    }
  }

  function loadQueue() {
    var stored = null;
    try {
      var raw = window.localStorage.getItem(QUEUE_KEY);
      stored = raw ? JSON.parse(raw) : [];
    } catch (e) {
      return memoryQueue.slice();
    }
    return Array.isArray(stored) ? stored.filter(function (item) { return item && item.e && item.e.id; }) : [];
  }

  function saveQueue(items) {
    if (items.length > MAX_QUEUE) items = items.slice(items.length - MAX_QUEUE); // keep the newest
    try {
      if (items.length) window.localStorage.setItem(QUEUE_KEY, JSON.stringify(items));
      else window.localStorage.removeItem(QUEUE_KEY);
      memoryQueue = [];
    } catch (e) {
      memoryQueue = items; // storage blocked or full: keep them for this page at least
    }
  }

  function removeFromQueue(ids) {
    if (!ids.length) return;
    var gone = {};
    ids.forEach(function (id) { gone[id] = true; });
    saveQueue(loadQueue().filter(function (item) { return !gone[item.e.id]; }));
  }

  /* ---- retry state shared by tabs and page loads: {n: failures in a row, at: not before} */

  function retryState() {
    var state = readJson(RETRY_KEY, null);
    return state && typeof state.at === "number" ? state : { n: 0, at: 0 };
  }

  function backoff(retryAfterMs) {
    var state = retryState();
    var n = (state.n || 0) + 1;
    var delay;
    if (retryAfterMs !== null) {
      delay = retryAfterMs; // the server said when: no jitter below it, a little above
      delay += Math.random() * Math.min(1000, delay * 0.1);
    } else {
      // "Equal jitter": half the exponential step fixed, half random, so tabs and shoppers
      // that failed together do not all come back in the same second.
      var step = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * Math.pow(2, n - 1));
      delay = step / 2 + Math.random() * step / 2;
    }
    try {
      window.localStorage.setItem(RETRY_KEY, JSON.stringify({ n: n, at: Date.now() + delay }));
    } catch (e) { /* storage blocked: this page's timer still waits */ }
    return delay;
  }

  function resetBackoff() {
    try { window.localStorage.removeItem(RETRY_KEY); } catch (e) { /* storage blocked */ }
  }

  /* Retry-After is seconds or an HTTP date (RFC 9110); null when absent or unreadable. */
  function retryAfterMs(response) {
    var value = response.headers.get("Retry-After");
    if (!value) return null;
    var ms = /^\s*\d+\s*$/.test(value) ? parseInt(value, 10) * 1000 : Date.parse(value) - Date.now();
    if (isNaN(ms)) return null;
    return Math.min(Math.max(ms, 0), RETRY_AFTER_MAX_MS);
  }

  /* ---- one sending tab at a time: LOCK_KEY = "<tab id> <expiry>" */

  function takeLock() {
    try {
      var held = (window.localStorage.getItem(LOCK_KEY) || "").split(" ");
      if (held[0] && held[0] !== tabId && Number(held[1]) > Date.now()) return false;
      window.localStorage.setItem(LOCK_KEY, tabId + " " + (Date.now() + LOCK_MS));
      return (window.localStorage.getItem(LOCK_KEY) || "").split(" ")[0] === tabId;
    } catch (e) {
      return true; // no storage, no other tab to share a queue with
    }
  }

  function releaseLock() {
    try {
      if ((window.localStorage.getItem(LOCK_KEY) || "").split(" ")[0] === tabId) {
        window.localStorage.removeItem(LOCK_KEY);
      }
    } catch (e) { /* storage blocked */ }
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

  /* ---- sending */

  function schedule(delayMs) {
    var at = Math.max(Date.now() + delayMs, retryState().at);
    if (timer !== null && timerAt <= at) return; // an earlier flush is already planned
    if (timer !== null) window.clearTimeout(timer);
    timerAt = at;
    timer = window.setTimeout(function () { timer = null; flush(); }, Math.max(0, at - Date.now()));
  }

  function flush() {
    if (!allowed()) { forgetEverything(); return; }
    if (sending) return; // the answer to the request in flight schedules the next one
    var queued = loadQueue();
    if (!queued.length) return;
    var wait = retryState().at - Date.now();
    if (wait > 0) { schedule(wait); return; }
    if (!takeLock()) { schedule(LOCK_MS / 4); return; } // another tab is sending: look again later
    var batch = queued.slice(0, chunkSize).map(function (item) { return item.e; });
    sending = true;
    send(batch).then(function (outcome) {
      sending = false;
      releaseLock();
      if (outcome.retryInMs !== null) {
        schedule(outcome.retryInMs);
      } else if (loadQueue().length) {
        schedule(0); // more queued (or a split batch): go on at once
      }
    });
  }

  /* One request; resolves to {retryInMs: null when done with this batch, else the delay}. */
  function send(batch) {
    var headers = { "Content-Type": "application/json" };
    var csrf = readCookie("csrftoken");
    if (csrf) headers["X-CSRFToken"] = csrf;
    var controller = window.AbortController ? new AbortController() : null;
    var timeout = controller ? window.setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS) : null;
    var ids = batch.map(function (e) { return e.id; });
    var body = JSON.stringify({ events: batch });
    return fetch(ENDPOINT, {
      method: "POST",
      mode: "same-origin",
      credentials: "same-origin",
      // The request may outlive the page (if its answer is lost, the next page resends), but an
      // oversized keepalive body would fail every time and block the queue: send those plainly.
      keepalive: new Blob([body]).size <= KEEPALIVE_MAX_BYTES,
      headers: headers,
      body: body,
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      if (timeout !== null) window.clearTimeout(timeout);
      return response.json().catch(function () { return null; }).then(function (body) {
        return answer(response, body, batch, ids);
      });
    }).catch(function () {
      if (timeout !== null) window.clearTimeout(timeout);
      return { retryInMs: backoff(null) }; // offline, connection reset, timeout: keep the batch
    });
  }

  function answer(response, body, batch, ids) {
    var status = response.status;
    if (status >= 200 && status < 300) {
      // accepted, duplicates and the items rejected one by one ({index, errors}) are all final
      removeFromQueue(ids);
      resetBackoff();
      chunkSize = CHUNK;
      return { retryInMs: null };
    }
    if (status === 413 && batch.length > 1) {
      chunkSize = Math.max(1, Math.floor(batch.length / 2)); // too big together: send halves
      return { retryInMs: null };
    }
    if (status === 400 && body && Array.isArray(body.rejected)) {
      // per-item errors: drop exactly those, send the rest again
      removeFromQueue(body.rejected.map(function (r) { return batch[r.index] && batch[r.index].id; })
        .filter(Boolean));
      return { retryInMs: backoff(null) };
    }
    if (status === 400 || status === 403 || status === 413 || status === 422) {
      // Definitive: malformed batch, an event too large alone, or no consent on the server's side.
      // Retrying would never succeed (and without consent nothing may be kept).
      removeFromQueue(ids);
      resetBackoff();
      return { retryInMs: null };
    }
    // 429 and 503 say when; other 5xx, 408 and unexpected answers (a proxy's 404 during a
    // deploy) are not a verdict on the events: keep them and back off.
    return { retryInMs: backoff(status === 429 || status === 503 ? retryAfterMs(response) : null) };
  }

  /* The page is going away: hand what is queued to sendBeacon, which survives the page but tells
     nothing about the answer. The events stay queued, marked, for the next page to resend. */
  function beacon() {
    if (!allowed()) { forgetEverything(); return; }
    var queued = loadQueue();
    if (!queued.length || !navigator.sendBeacon) return;
    if (retryState().at > Date.now()) return; // honour Retry-After; they wait in storage
    var now = Date.now();
    var sent = {};
    for (var start = 0; start < queued.length; start += CHUNK) {
      var part = queued.slice(start, start + CHUNK).map(function (item) { return item.e; });
      // text/plain keeps the beacon a "simple" request; the server parses the JSON itself.
      var blob = new Blob([JSON.stringify({ events: part })], { type: "text/plain;charset=UTF-8" });
      if (!navigator.sendBeacon(ENDPOINT, blob)) break; // the browser's beacon quota is full
      part.forEach(function (e) { sent[e.id] = true; });
    }
    saveQueue(loadQueue().map(function (item) {
      if (sent[item.e.id]) item.b = now;
      return item;
    }));
    releaseLock();
  }

  function track(type, props) {
    if (!allowed()) {
      forgetEverything();
      return false;
    }
    var queued = loadQueue();
    queued.push({ e: buildEvent(type, props), b: 0 });
    saveQueue(queued);
    if (queued.length >= FLUSH_AT) flush();
    else schedule(FLUSH_DELAY_MS);
    return true;
  }

  window.shopTracker = {
    track: track,
    flush: flush,
    allowed: allowed,
    pending: function () { return loadQueue().length; }
  };

  window.addEventListener("pagehide", beacon);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") beacon();
  });

  /* Automatic events: page views, product views, searches, cart changes, checkout start. */
  function autoTrack() {
    if (!allowed()) { forgetEverything(); return; }
    // Events an earlier page left unacknowledged (beaconed, failed, or cut off by navigation).
    if (loadQueue().length) schedule(RESUME_DELAY_MS);
    var body = document.body;
    var page = body.getAttribute("data-page") || "other";
    track("page_view", { page: page, title: document.title.slice(0, 200), referrer: referrerWithoutQuery() });
    if (page === "product" && body.getAttribute("data-product-id")) {
      track("product_view", { product_id: body.getAttribute("data-product-id") });
      rememberView(body.getAttribute("data-product-id"));
    }
    trackImpressions();
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
      beacon();
    }, true);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", autoTrack);
  } else {
    autoTrack();
  }
})();
