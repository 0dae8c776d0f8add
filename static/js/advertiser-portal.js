// The advertiser portal's campaign form: product search for the ad and a live audience estimate.
// A static file (the CSP allows no inline or third-party scripts); the form works without it.
(function () {
  "use strict";
  var form = document.getElementById("campaign-form");
  if (!form) return;

  // --- product picker
  var search = document.getElementById("product-search");
  var results = document.getElementById("product-results");
  var picked = document.getElementById("picked-product");
  var productInput = form.querySelector("[name=product]");
  var searchTimer = null;

  function pick(p) {
    productInput.value = p.id;
    picked.hidden = false;
    picked.textContent = "";
    if (p.image_url) {
      var img = document.createElement("img");
      img.src = p.image_url; img.alt = ""; img.width = 48; img.height = 48;
      picked.appendChild(img);
    }
    var text = document.createElement("span");
    var strong = document.createElement("strong");
    strong.textContent = p.title;
    text.appendChild(strong);
    text.appendChild(document.createTextNode(" · " + p.price + " " + p.currency + (p.category ? " · " + p.category : "")));
    picked.appendChild(text);
    results.textContent = "";
    var headline = form.querySelector("[name=headline]");
    if (headline && !headline.value) headline.placeholder = p.title;
  }

  function showResults(products) {
    results.textContent = "";
    if (!products.length) {
      var li = document.createElement("li");
      li.className = "help";
      li.textContent = "No product for sale matches.";
      results.appendChild(li);
      return;
    }
    products.forEach(function (p) {
      var li = document.createElement("li");
      var b = document.createElement("button");
      b.type = "button";
      b.dataset.productId = p.id;
      if (p.image_url) {
        var img = document.createElement("img");
        img.src = p.image_url; img.alt = ""; img.width = 48; img.height = 48; img.loading = "lazy";
        b.appendChild(img);
      }
      var span = document.createElement("span");
      span.textContent = p.title + " · " + p.price + " " + p.currency + (p.category ? " · " + p.category : "");
      b.appendChild(span);
      b.addEventListener("click", function () { pick(p); });
      li.appendChild(b);
      results.appendChild(li);
    });
  }

  if (search) {
    search.addEventListener("input", function () {
      clearTimeout(searchTimer);
      var q = search.value.trim();
      if (q.length < 2) { results.textContent = ""; return; }
      searchTimer = setTimeout(function () {
        fetch(form.dataset.productsUrl + "?q=" + encodeURIComponent(q), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : { products: [] }; })
          .then(function (data) { showResults(data.products || []); })
          .catch(function () { results.textContent = ""; });
      }, 200);
    });
    search.addEventListener("keydown", function (e) { if (e.key === "Enter") e.preventDefault(); });
  }

  // --- live audience estimate
  var box = document.getElementById("audience-estimate");
  var targeting = document.getElementById("targeting");
  var estimateTimer = null;
  function estimate() {
    var params = new URLSearchParams();
    targeting.querySelectorAll("input, select").forEach(function (el) {
      if (!el.name) return;
      if ((el.type === "checkbox" || el.type === "radio") && !el.checked) return;
      if (el.tagName === "SELECT" && el.multiple) {
        Array.prototype.forEach.call(el.selectedOptions, function (o) { params.append(el.name, o.value); });
      } else if (el.value !== "") {
        params.append(el.name, el.value);
      }
    });
    fetch(form.dataset.audienceUrl + "?" + params.toString(), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        var strong = box.querySelector("[data-matching]");
        var notes = box.querySelector("[data-notes]");
        if (data.errors) {
          strong.textContent = "—";
          notes.textContent = Object.keys(data.errors).map(function (k) { return data.errors[k].join(" "); }).join(" ");
          return;
        }
        strong.textContent = data.matching_users + " of " + data.total_users + " registered shoppers";
        notes.textContent = (data.notes || []).join(" ");
      })
      .catch(function () {});
  }
  if (box && targeting) {
    targeting.addEventListener("change", function () { clearTimeout(estimateTimer); estimateTimer = setTimeout(estimate, 150); });
    targeting.addEventListener("input", function () { clearTimeout(estimateTimer); estimateTimer = setTimeout(estimate, 300); });
    estimate();
  }
})();
