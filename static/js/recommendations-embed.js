/*
 * Recommendations embed for pages outside Django (same origin, e.g. a CMS page or blog).
 *
 *   <div data-shop-recommendations data-k="6" data-title="Recommended for you"></div>
 *   <script src="/static/js/recommendations-embed.js" defer></script>
 *
 * Fetches /api/recommendations/me/ with the shopper's session cookie, renders cards whose
 * links go through the click redirect (which records a recommendation_click), and reports one
 * recommendation_impression per card through window.shopTracker when it is present (the
 * tracker only sends when the shopper consented).
 */
(function () {
  "use strict";

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text) { node.textContent = text; } // textContent: titles are never parsed as HTML
    return node;
  }

  // Minimal layout for host pages without the shop's stylesheet; the host's CSS may override it.
  var STYLE = ".shop-recs .product-grid{display:grid;gap:1rem;grid-template-columns:repeat(auto-fill,minmax(170px,1fr))}" +
    ".shop-recs .product-card{border:1px solid #ddd;border-radius:8px;padding:.75rem;font-family:sans-serif}" +
    ".shop-recs .product-card h3{font-size:1rem;margin:0 0 .5rem}.shop-recs .card-reason{color:#555;font-size:.85rem}";

  function ensureStyle() {
    if (document.getElementById("shop-recs-style")) { return; }
    var style = el("style", { id: "shop-recs-style" });
    style.textContent = STYLE;
    document.head.appendChild(style);
  }

  function render(container, payload) {
    var items = (payload && payload.items) || [];
    container.textContent = "";
    if (!items.length) { return; }
    ensureStyle();
    container.classList.add("shop-recs");
    var section = el("section", { "class": "recommendations", "data-recommendation-slot": "embed" });
    section.appendChild(el("h2", {}, container.getAttribute("data-title") || "Recommended for you"));
    var grid = el("div", { "class": "product-grid" });
    items.forEach(function (item, position) {
      var query = "?slot=embed&pos=" + position + (item.model_version ? "&v=" + item.model_version : "");
      var card = el("article", { "class": "product-card recommendation", "data-product-id": String(item.product_id) });
      var link = el("a", { "class": "card-link", href: "/recommendations/click/" + encodeURIComponent(item.product_id) + "/" + query });
      link.appendChild(el("h3", {}, item.title));
      card.appendChild(link);
      card.appendChild(el("p", { "class": "card-meta" }, item.currency + " " + item.price));
      if (item.reason) { card.appendChild(el("p", { "class": "card-reason" }, item.reason)); }
      grid.appendChild(card);
      if (window.shopTracker && typeof window.shopTracker.track === "function") {
        window.shopTracker.track("recommendation_impression", {
          product_id: item.product_id, slot: "embed", position: position, model_version: item.model_version
        });
      }
    });
    section.appendChild(grid);
    container.appendChild(section);
  }

  function load(container) {
    var k = parseInt(container.getAttribute("data-k") || "6", 10);
    if (!(k >= 1 && k <= 100)) { k = 6; }
    fetch("/api/recommendations/me/?k=" + k, { credentials: "same-origin", mode: "same-origin",
                                               headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (payload) { if (payload) { render(container, payload); } })
      .catch(function () { /* a missing widget must never break the host page */ });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-shop-recommendations]"), load);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
  window.shopRecommendations = { refresh: init };
})();
