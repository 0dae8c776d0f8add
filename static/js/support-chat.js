/* Shopper chat: the /support/chat/ page and the chat bubble on every page use this one widget.
   Vanilla JS; every text is inserted with textContent (never innerHTML), so messages render escaped. */
(function () {
  "use strict";
  var POLL_MS = 1500;

  function csrfToken() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function api(method, url, body) {
    var opts = { method: method, mode: "same-origin", credentials: "same-origin",
                 headers: { "Accept": "application/json", "X-CSRFToken": csrfToken() } };
    if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
    return fetch(url, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) { var e = new Error(data.detail || data.text || ("HTTP " + r.status)); e.status = r.status; throw e; }
        return data;
      });
    });
  }

  var LABELS = {
    en: { waiting: "An agent will reply here shortly.", assigned: "You're chatting with our support team.",
          resolved: "This conversation is resolved. How did we do?", thanks: "Thanks for your rating!",
          bot: "Assistant", agent: "Support", you: "You" },
    zh: { waiting: "人工客服将很快在这里回复您。", assigned: "客服正在为您服务。",
          resolved: "本次会话已结束，请为我们的服务评分：", thanks: "感谢您的评分！",
          bot: "助手", agent: "客服", you: "我" }
  };

  function ChatWidget(root) {
    this.root = root;
    this.log = root.querySelector("[data-chat-log]");
    this.form = root.querySelector("[data-chat-form]");
    this.input = root.querySelector("[data-chat-input]");
    this.statusLine = root.querySelector("[data-chat-status]");
    this.rating = root.querySelector("[data-chat-rating]");
    this.error = root.querySelector("[data-chat-error]");
    this.seen = {};
    this.cursor = 0;
    this.conversation = null;
    this.timer = null;
    var self = this;
    this.form.addEventListener("submit", function (ev) { ev.preventDefault(); self.send(); });
    Array.prototype.forEach.call(root.querySelectorAll("[data-score]"), function (b) {
      b.addEventListener("click", function () { self.rate(parseInt(b.getAttribute("data-score"), 10)); });
    });
  }

  ChatWidget.prototype.lang = function () {
    return LABELS[(this.conversation && this.conversation.language) || "en"] || LABELS.en;
  };

  ChatWidget.prototype.start = function () {
    var self = this;
    if (this.starting) return this.starting;  // one start, however many clicks or early sends
    this.starting = api("POST", "/api/support/conversations/", {}).then(function (data) {
      self.conversation = data;
      self.render(data.messages || []);
      self.showStatus();
      self.timer = setInterval(function () { self.poll(); }, POLL_MS);
    }).catch(function (e) { self.starting = null; self.fail(e); });
    return this.starting;
  };

  ChatWidget.prototype.poll = function () {
    var self = this;
    if (!this.conversation || this.polling) return;
    this.polling = true;
    api("GET", "/api/support/conversations/" + this.conversation.id + "/messages/?after=" + this.cursor)
      .then(function (data) { self.conversation = Object.assign(self.conversation, data); self.render(data.messages || []); self.showStatus(); })
      .catch(function () { /* transient: the next poll retries */ })
      .then(function () { self.polling = false; });
  };

  ChatWidget.prototype.send = function () {
    var self = this, text = this.input.value.trim();
    if (!text) return;
    this.input.value = "";
    this.error.textContent = "";
    // A message typed before the conversation exists waits for it instead of being dropped.
    this.start().then(function () {
      if (!self.conversation) { self.input.value = text; return null; }
      return api("POST", "/api/support/conversations/" + self.conversation.id + "/messages/", { text: text });
    })
      .then(function (data) { if (!data) return; self.conversation = Object.assign(self.conversation, data); self.render(data.messages || []); self.showStatus(); })
      .catch(function (e) { self.input.value = text; self.fail(e); });
  };

  ChatWidget.prototype.rate = function (score) {
    var self = this;
    api("POST", "/api/support/conversations/" + this.conversation.id + "/csat/", { score: score })
      .then(function (data) { self.conversation.csat = data.csat; self.showStatus(); })
      .catch(function (e) { self.fail(e); });
  };

  ChatWidget.prototype.render = function (messages) {
    var labels = this.lang();
    for (var i = 0; i < messages.length; i++) {
      var m = messages[i];
      if (this.seen[m.id]) continue;
      this.seen[m.id] = true;
      if (m.id > this.cursor) this.cursor = m.id;
      var row = document.createElement("div");
      row.className = "chat-msg chat-" + m.sender;
      row.setAttribute("data-sender", m.sender);
      var who = document.createElement("span");
      who.className = "chat-who";
      who.textContent = m.sender === "shopper" ? labels.you : (m.sender === "agent" ? labels.agent : labels.bot);
      var body = document.createElement("p");
      body.textContent = m.text;
      row.appendChild(who);
      row.appendChild(body);
      var products = (m.data && m.data.products) || [];
      if (products.length) {
        var list = document.createElement("ul");
        list.className = "chat-products";
        products.forEach(function (p) {
          var li = document.createElement("li"), a = document.createElement("a");
          a.href = p.url; a.textContent = p.title + " — £" + p.price;
          li.appendChild(a); list.appendChild(li);
        });
        row.appendChild(list);
      }
      this.log.appendChild(row);
    }
    this.log.scrollTop = this.log.scrollHeight;
  };

  ChatWidget.prototype.showStatus = function () {
    var c = this.conversation, labels = this.lang();
    if (!c) return;
    this.root.setAttribute("data-status", c.status);
    var text = "";
    if (c.status === "waiting") text = labels.waiting;
    else if (c.status === "assigned") text = labels.assigned;
    else if (c.status === "resolved") text = c.csat ? labels.thanks : labels.resolved;
    this.statusLine.textContent = text;
    this.rating.hidden = !(c.status === "resolved" && !c.csat);
  };

  ChatWidget.prototype.fail = function (e) {
    this.error.textContent = e && e.status === 429 ? "Too many messages: please wait a moment." : (e.message || "Something went wrong.");
  };

  window.SupportChat = ChatWidget;

  document.addEventListener("DOMContentLoaded", function () {
    var page = document.querySelector("[data-support-chat-page]");
    if (page) { new ChatWidget(page).start(); return; }
    var bubble = document.querySelector("[data-support-bubble]");
    if (!bubble) return;
    var panel = document.querySelector("[data-support-panel]");
    var widget = null;
    bubble.addEventListener("click", function () {
      panel.hidden = !panel.hidden;
      bubble.setAttribute("aria-expanded", String(!panel.hidden));
      if (!panel.hidden) { widget = widget || new ChatWidget(panel); widget.start(); panel.querySelector("[data-chat-input]").focus(); }
    });
  });
})();
