/*
 * Sponsored products: fills the storefront's ad slot after the page has loaded.
 *
 *   <aside data-ad-slot="product" data-product-id="11" data-category-id="3" data-query=""
 *          data-cart="" hidden></aside>   (rendered by {% ad_slot %}, advertising/templatetags)
 *
 * The page itself runs no auction and writes nothing, so it is the same for everyone and can be
 * cached; only browsers that run this script ask GET /api/ads/serve/ (crawlers never bill an
 * advertiser). Each card links through the ad's signed click URL (which records the click and
 * redirects to the ad's own landing page). Text goes in with textContent, never as HTML.
 */
(function () {
  "use strict";

  var PARAMS = { "product-id": "product_id", "category-id": "category_id", "query": "q", "cart": "cart" };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text) { node.textContent = text; }
    return node;
  }

  function css(node, styles) {
    Object.keys(styles).forEach(function (key) { node.style[key] = styles[key]; });
    return node;
  }

  function safeHref(url) {
    // The API only sends our own /ads/click/... paths; refuse anything else.
    return typeof url === "string" && url.charAt(0) === "/" && url.charAt(1) !== "/" ? url : null;
  }

  function card(ad) {
    var href = safeHref(ad.click_url);
    if (!href) { return null; }
    var link = css(el("a", { "class": "ad-card", href: href, rel: "sponsored nofollow", "data-ad-id": String(ad.ad_id) }), {
      display: "flex", gap: ".75rem", alignItems: "center", border: "1px solid #e2d9c8", borderRadius: "8px",
      padding: ".6rem .8rem", margin: ".5rem 0", background: "#fffaf0", textDecoration: "none", color: "inherit"
    });
    var image = ad.image_url || "";
    if (image && (image.charAt(0) === "/" || /^https?:\/\//i.test(image))) {
      var img = css(el("img", { src: image, alt: "", width: "56", height: "56", loading: "lazy" }),
        { objectFit: "cover", borderRadius: "4px" });
      link.appendChild(img);
    }
    var body = css(el("span", {}), { flex: "1" });
    body.appendChild(css(el("span", { "class": "ad-sponsored" }, "Sponsored"), {
      display: "inline-block", fontSize: ".7rem", fontWeight: "700", letterSpacing: ".05em",
      textTransform: "uppercase", color: "#7a5c00", background: "#ffe9a8", borderRadius: "3px", padding: "0 .35rem"
    }));
    body.appendChild(css(el("strong", { "class": "ad-headline" }, ad.headline || (ad.product && ad.product.title) || ""),
      { display: "block" }));
    if (ad.product) {
      if (ad.product.title && ad.product.title.toLowerCase() !== String(ad.headline || "").toLowerCase()) {
        body.appendChild(css(el("span", { "class": "ad-title" }, ad.product.title), { display: "block", fontSize: ".85rem" }));
      }
      var price = ad.product.price_display || ((ad.product.currency || "") + " " + (ad.product.price || ""));
      body.appendChild(el("span", { "class": "ad-price" }, price));
    }
    link.appendChild(body);
    return link;
  }

  function render(slot, payload) {
    var ads = (payload && payload.ads) || [];
    slot.textContent = "";
    ads.forEach(function (ad) {
      var node = card(ad);
      if (node) { slot.appendChild(node); }
    });
    if (slot.childNodes.length) {
      slot.hidden = false;
      slot.setAttribute("data-ad-filled", "1");
    } else {
      slot.setAttribute("data-ad-filled", "0");
    }
  }

  function load(slot) {
    var query = ["slot=" + encodeURIComponent(slot.getAttribute("data-ad-slot"))];
    Object.keys(PARAMS).forEach(function (attr) {
      var value = slot.getAttribute("data-" + attr);
      if (value) { query.push(PARAMS[attr] + "=" + encodeURIComponent(value)); }
    });
    fetch("/api/ads/serve/?" + query.join("&"), {
      credentials: "same-origin", mode: "same-origin", headers: { "Accept": "application/json" }
    })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (payload) { render(slot, payload); })
      .catch(function () { slot.setAttribute("data-ad-filled", "0"); /* an empty slot never breaks the page */ });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-ad-slot]:not([data-ad-loading])"), function (slot) {
      slot.setAttribute("data-ad-loading", "1");
      load(slot);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
