/* Agent console: queue by status with unread counts, one conversation with the shopper's context
   beside it, keyboard shortcuts, polling every 1.5 s. Everything is rendered with textContent. */
(function () {
  "use strict";
  var POLL_MS = 1500, BASE = "/api/support/agent/";
  var STATUS = { bot: "with the bot", waiting: "waiting", assigned: "assigned", resolved: "resolved" };
  var LANGUAGE = { en: "English", zh: "Chinese" };

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
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function when(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    var time = pad(d.getHours()) + ":" + pad(d.getMinutes());
    return d.toDateString() === new Date().toDateString() ? time : d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + time;
  }
  function typing(target) {
    return target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" || target.tagName === "SELECT" || target.isContentEditable);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector("[data-console]");
    if (!root) return;
    var state = { status: "waiting", current: null, cursor: 0, seenSent: 0, seen: {}, intents: [], queue: [], canned: [] };
    var q = function (s) { return root.querySelector(s); };
    var log = q("[data-conv-log]"), errorBox = q("[data-conv-error]"), reply = q("[data-reply]");
    var canned = q("[data-canned]");

    function loadQueue() {
      return api("GET", BASE + "conversations/?status=" + state.status).then(function (d) {
        Object.keys(d.counts).forEach(function (k) { var c = root.querySelector('[data-count="' + k + '"]'); if (c) c.textContent = d.counts[k]; });
        Object.keys(d.unread || {}).forEach(function (k) {
          var u = root.querySelector('[data-unread="' + k + '"]');
          if (u) { u.textContent = d.unread[k] + " unread"; u.hidden = !d.unread[k]; }
        });
        state.queue = d.conversations;
        var box = q("[data-queue]"); box.textContent = "";
        d.conversations.forEach(function (c) {
          var b = el("button", "queue-item"); b.type = "button"; b.setAttribute("data-conversation", c.id);
          b.setAttribute("aria-current", String(!!(state.current && state.current.id === c.id)));
          var top = el("div", "queue-top");
          top.appendChild(el("strong", "", "#" + c.id + " " + c.shopper));
          if (c.unread && !(state.current && state.current.id === c.id)) {
            var badge = el("span", "badge", String(c.unread)); badge.setAttribute("data-unread-count", c.unread);
            badge.title = c.unread + " unread"; top.appendChild(badge);
          }
          b.appendChild(top);
          b.appendChild(el("div", "meta", (STATUS[c.status] || c.status) + (c.assigned_agent ? " · " + c.assigned_agent : "") + " · " + (LANGUAGE[c.language] || c.language) + " · " + when(c.updated_at)));
          if (c.summary) b.appendChild(el("div", "queue-summary", c.summary.slice(0, 110)));
          b.addEventListener("click", function () { open(c.id); });
          box.appendChild(b);
        });
        if (!d.conversations.length) box.appendChild(el("p", "meta", "Nothing here."));
      }).catch(function (e) { errorBox.textContent = e.message; });
    }

    function markSeen() {
      if (!state.current || state.cursor <= state.seenSent) return;
      state.seenSent = state.cursor;
      api("POST", BASE + "conversations/" + state.current.id + "/seen/", { message_id: state.cursor }).catch(function () {});
    }

    function renderMessages(messages) {
      messages.forEach(function (m) {
        if (state.seen[m.id]) return; state.seen[m.id] = true;
        if (m.id > state.cursor) state.cursor = m.id;
        var row = el("div", "msg msg-" + m.sender); row.setAttribute("data-sender", m.sender);
        var who = m.sender === "note" ? "Private note · " + m.author_name : (m.sender === "agent" ? "Agent · " + m.author_name : (m.sender === "bot" ? "Bot" : "Shopper"));
        var head = el("div", "msg-head");
        head.appendChild(el("span", "msg-who", who));
        if (m.sender === "shopper" && m.intent) head.appendChild(el("span", "msg-intent", m.intent + (m.confidence != null ? " " + m.confidence.toFixed(2) : "")));
        var t = el("time", "msg-time", when(m.created_at)); t.setAttribute("datetime", m.created_at); head.appendChild(t);
        row.appendChild(head);
        row.appendChild(el("p", "", m.text));
        if (m.sender === "shopper") {
          var sel = el("select", "select select-small"); sel.setAttribute("aria-label", "Correct intent");
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
      markSeen();
    }

    function renderHead(c) {
      state.current = c;
      q("[data-conv-head]").textContent = "#" + c.id + " · " + c.shopper + " · " + (STATUS[c.status] || c.status) + (c.assigned_agent ? " (" + c.assigned_agent + ")" : "") + " · " + (LANGUAGE[c.language] || c.language) + (c.csat ? " · CSAT " + c.csat + "/5" : "");
      if (c.summary_live !== undefined) q("[data-conv-summary]").textContent = c.summary_live;
      q("[data-conv-actions]").hidden = false;
      q("[data-conv-buttons]").hidden = false;
      // Only the moves that make sense now: claim what waits, resolve what is open.
      q("[data-action=claim]").hidden = c.status === "assigned" || c.status === "resolved";
      q("[data-action=assign]").hidden = c.status !== "waiting";
      q("[data-action=resolve]").hidden = c.status === "resolved";
      root.setAttribute("data-current-status", c.status);
      root.setAttribute("data-current-language", c.language);
      fillCanned();
    }

    function section(box, title, rows, empty) {
      var s = el("section", "side-section");
      s.appendChild(el("h3", "", title));
      if (!rows.length) { s.appendChild(el("p", "meta", empty)); box.appendChild(s); return; }
      var ul = el("ul");
      rows.forEach(function (r) { ul.appendChild(r); });
      s.appendChild(ul); box.appendChild(s);
    }
    function line(main, meta, status) {
      var li = el("li");
      if (status) li.appendChild(el("span", "pill pill-" + status, status));
      li.appendChild(el("span", "", main));
      if (meta) li.appendChild(el("div", "meta", meta));
      return li;
    }

    function renderContext(ctx) {
      var box = q("[data-context]"); box.textContent = "";
      section(box, "Orders", ctx.orders.map(function (o) {
        return line(o.number + " · " + o.items + " items · " + o.total + " " + o.currency, o.placed_at.slice(0, 10), o.status);
      }), "No orders on an account (guest).");
      section(box, "Returns", (ctx.returns || []).map(function (r) {
        return line("#" + r.id + " · " + r.order + " · " + r.lines.join(", "), r.reason, r.status);
      }), "No returns.");
      section(box, "Cart", (ctx.cart || []).map(function (i) {
        return line(i.quantity + " × " + i.product, "£" + i.price);
      }), "Empty.");
      section(box, "Recent views and searches", ctx.events.map(function (e) {
        var label = e.type === "search" ? "searched “" + e.query + "”" : (e.type === "add_to_cart" ? "added " + e.product : "viewed " + e.product);
        return line(label, when(e.occurred_at));
      }), "None.");
      section(box, "Past conversations", (ctx.conversations || []).map(function (c) {
        var li = line("#" + c.id + " · " + when(c.created_at), c.csat ? "CSAT " + c.csat + "/5" : "", c.status);
        var a = el("button", "link", "open"); a.type = "button";
        a.addEventListener("click", function () { open(c.id); });
        li.appendChild(a);
        return li;
      }), "None.");
    }

    function open(id) {
      state.cursor = 0; state.seenSent = 0; state.seen = {}; log.textContent = ""; errorBox.textContent = "";
      return api("GET", BASE + "conversations/" + id + "/").then(function (d) {
        renderHead(d.conversation); renderMessages(d.messages); if (d.context) renderContext(d.context); loadQueue();
      }).catch(function (e) { errorBox.textContent = e.message; });
    }

    function step(delta) {
      if (!state.queue.length) return;
      var ids = state.queue.map(function (c) { return c.id; });
      var at = state.current ? ids.indexOf(state.current.id) : -1;
      var next = at === -1 ? (delta > 0 ? 0 : ids.length - 1) : Math.min(Math.max(at + delta, 0), ids.length - 1);
      if (ids[next] !== (state.current && state.current.id)) open(ids[next]);
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

    // Canned replies in the conversation's language (Chinese text when there is one), {name} filled in.
    function fillCanned() {
      var zh = state.current && state.current.language === "zh";
      var key = zh ? "zh" : "en";
      if (canned.getAttribute("data-language") === key) return;
      canned.setAttribute("data-language", key);
      while (canned.options.length > 1) canned.remove(1);
      state.canned.forEach(function (r) {
        var o = el("option", "", r.title); o.value = (zh && r.text_zh) ? r.text_zh : r.text; canned.appendChild(o);
      });
      q("[data-canned-language]").textContent = zh ? "Chinese texts" : "English texts";
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
    canned.addEventListener("change", function () {
      if (canned.value) { reply.value = canned.value.replace("{name}", root.getAttribute("data-agent")); canned.value = ""; reply.focus(); }
    });
    document.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && ev.target === reply) { ev.preventDefault(); act("reply"); return; }
      if (ev.altKey && ev.shiftKey && (ev.key === "R" || ev.key === "r" || ev.code === "KeyR")) { ev.preventDefault(); act("resolve"); return; }
      if (ev.altKey && ev.key === "ArrowDown") { ev.preventDefault(); step(1); return; }
      if (ev.altKey && ev.key === "ArrowUp") { ev.preventDefault(); step(-1); return; }
      if (typing(ev.target) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
      if (ev.key === "j") { ev.preventDefault(); step(1); }
      else if (ev.key === "k") { ev.preventDefault(); step(-1); }
      else if (ev.key === "r" && state.current) { ev.preventDefault(); reply.focus(); }
    });
    api("GET", BASE + "canned/").then(function (rows) { state.canned = rows; canned.removeAttribute("data-language"); fillCanned(); });
    api("GET", BASE + "intents/").then(function (rows) { state.intents = rows; });
    loadQueue();
    setInterval(poll, POLL_MS);
  });
})();
