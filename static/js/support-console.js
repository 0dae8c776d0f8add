/* Agent console: queue by status, one conversation with the shopper's orders and activity beside it,
   polling every 1.5 s for new messages. Everything rendered with textContent. */
(function () {
  "use strict";
  var POLL_MS = 1500, BASE = "/api/support/agent/";

  function csrfToken() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function api(method, url, body) {
    var opts = { method: method, mode: "same-origin", credentials: "same-origin",
                 headers: { "Accept": "application/json", "X-CSRFToken": csrfToken() } };
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(url, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (d) {
        if (!r.ok) throw new Error(d.detail || d.text || ("HTTP " + r.status)); return d;
      });
    });
  }
  function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector("[data-console]");
    if (!root) return;
    var state = { status: "waiting", current: null, cursor: 0, seen: {}, intents: [] };
    var q = function (s) { return root.querySelector(s); };
    var log = q("[data-conv-log]"), errorBox = q("[data-conv-error]"), reply = q("[data-reply]");

    function loadQueue() {
      api("GET", BASE + "conversations/?status=" + state.status).then(function (d) {
        Object.keys(d.counts).forEach(function (k) { var c = root.querySelector('[data-count="' + k + '"]'); if (c) c.textContent = d.counts[k]; });
        var box = q("[data-queue]"); box.textContent = "";
        d.conversations.forEach(function (c) {
          var b = el("button", "queue-item"); b.type = "button"; b.setAttribute("data-conversation", c.id);
          b.setAttribute("aria-current", String(state.current && state.current.id === c.id));
          b.appendChild(el("strong", "", "#" + c.id + " " + c.shopper));
          b.appendChild(el("div", "meta", c.status + (c.assigned_agent ? " · " + c.assigned_agent : "") + " · " + c.language));
          b.appendChild(el("div", "meta", (c.summary || "").slice(0, 90)));
          b.addEventListener("click", function () { open(c.id); });
          box.appendChild(b);
        });
        if (!d.conversations.length) box.appendChild(el("p", "meta", "Nothing here."));
      }).catch(function (e) { errorBox.textContent = e.message; });
    }

    function renderMessages(messages) {
      messages.forEach(function (m) {
        if (state.seen[m.id]) return; state.seen[m.id] = true;
        if (m.id > state.cursor) state.cursor = m.id;
        var row = el("div", "chat-msg chat-" + m.sender); row.setAttribute("data-sender", m.sender);
        var who = m.sender === "note" ? "Note · " + m.author : (m.sender === "agent" ? "Agent · " + m.author : m.sender);
        if (m.sender === "shopper" && m.intent) who += " · " + m.intent + (m.confidence != null ? " (" + m.confidence.toFixed(2) + ")" : "");
        row.appendChild(el("span", "chat-who", who));
        row.appendChild(el("p", "", m.text));
        if (m.sender === "shopper") {
          var sel = el("select", "meta"); sel.setAttribute("aria-label", "Correct intent");
          sel.appendChild(el("option", "", m.corrected_intent ? "corrected: " + m.corrected_intent : "correct intent…")).value = "";
          state.intents.forEach(function (i) { var o = el("option", "", i); o.value = i; sel.appendChild(o); });
          sel.addEventListener("change", function () {
            if (!sel.value) return;
            api("POST", BASE + "messages/" + m.id + "/intent/", { intent: sel.value })
              .then(function (d) { sel.options[0].textContent = "corrected: " + d.intent; sel.value = ""; })
              .catch(function (e) { errorBox.textContent = e.message; });
          });
          row.appendChild(sel);
        }
        log.appendChild(row);
      });
      log.scrollTop = log.scrollHeight;
    }

    function renderHead(c) {
      state.current = c;
      q("[data-conv-head]").textContent = "#" + c.id + " · " + c.shopper + " · " + c.status + (c.assigned_agent ? " (" + c.assigned_agent + ")" : "") + (c.csat ? " · CSAT " + c.csat : "");
      q("[data-conv-summary]").textContent = c.summary || "";
      q("[data-conv-actions]").hidden = false;
      root.setAttribute("data-current-status", c.status);
    }

    function renderContext(ctx) {
      var box = q("[data-context]"); box.textContent = "";
      box.appendChild(el("h3", "", "Orders"));
      if (!ctx.orders.length) box.appendChild(el("p", "", "No orders on an account (guest)."));
      var ul = el("ul"); ctx.orders.forEach(function (o) { ul.appendChild(el("li", "", o.number + " · " + o.status + " · " + o.items + " items · " + o.total + " " + o.currency + " · " + o.placed_at.slice(0, 10))); });
      box.appendChild(ul);
      box.appendChild(el("h3", "", "Recent activity"));
      var ev = el("ul"); ctx.events.forEach(function (e) { ev.appendChild(el("li", "", e.occurred_at.slice(0, 16).replace("T", " ") + " " + e.type + " " + (e.product || e.query || ""))); });
      if (!ctx.events.length) ev.appendChild(el("li", "", "none"));
      box.appendChild(ev);
    }

    function open(id) {
      state.cursor = 0; state.seen = {}; log.textContent = ""; errorBox.textContent = "";
      api("GET", BASE + "conversations/" + id + "/").then(function (d) {
        renderHead(d.conversation); renderMessages(d.messages); if (d.context) renderContext(d.context); loadQueue();
      }).catch(function (e) { errorBox.textContent = e.message; });
    }

    function poll() {
      if (state.current) {
        api("GET", BASE + "conversations/" + state.current.id + "/?after=" + state.cursor)
          .then(function (d) { renderHead(d.conversation); renderMessages(d.messages); }).catch(function () {});
      }
      loadQueue();
    }

    function act(action) {
      if (!state.current) return;
      var id = state.current.id, url = BASE + "conversations/" + id + "/" + action + "/", body;
      if (action === "reply" || action === "note") { body = { text: reply.value.trim() }; if (!body.text) return; }
      if (action === "assign") body = {};
      errorBox.textContent = "";
      api("POST", url, body).then(function (d) {
        if (action === "reply" || action === "note") { reply.value = ""; renderMessages([d]); }
        else { renderHead(d); }
        loadQueue();
      }).catch(function (e) { errorBox.textContent = e.message; });
    }

    Array.prototype.forEach.call(root.querySelectorAll("[data-action]"), function (b) {
      b.addEventListener("click", function () { act(b.getAttribute("data-action")); });
    });
    Array.prototype.forEach.call(root.querySelectorAll("[data-tabs] button"), function (b) {
      b.addEventListener("click", function () {
        state.status = b.getAttribute("data-status");
        Array.prototype.forEach.call(root.querySelectorAll("[data-tabs] button"), function (x) { x.setAttribute("aria-pressed", String(x === b)); });
        loadQueue();
      });
    });
    var canned = q("[data-canned]");
    api("GET", BASE + "canned/").then(function (rows) {
      rows.forEach(function (r) { var o = el("option", "", r.title); o.value = r.text; canned.appendChild(o); });
    });
    canned.addEventListener("change", function () { if (canned.value) { reply.value = canned.value.replace("{name}", root.getAttribute("data-agent")); canned.value = ""; } });
    api("GET", BASE + "intents/").then(function (rows) { state.intents = rows; });
    loadQueue();
    setInterval(poll, POLL_MS);
  });
})();
