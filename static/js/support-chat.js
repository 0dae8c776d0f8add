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

  // Every label follows the conversation's language (set by the server), and all of them change
  // together when it changes, so a chat never mixes "You" and "我".
  var LABELS = {
    en: { waiting: "An agent will reply here shortly.", assigned: "You're chatting with our support team.",
          resolved: "This conversation is resolved. How did we do?", thanks: "Thanks for your rating!",
          bot: "Assistant", agent: "Support", you: "You", viewing: "Conversation #{id}, {date}",
          status: { bot: "with the assistant", waiting: "waiting for an agent", assigned: "with an agent", resolved: "resolved" },
          current: "current", rated: "rated {n}/5", placeholder: "Type a message…", send: "Send" },
    zh: { waiting: "人工客服将很快在这里回复您。", assigned: "客服正在为您服务。",
          resolved: "本次会话已结束，请为我们的服务评分：", thanks: "感谢您的评分！",
          bot: "助手", agent: "客服", you: "我", viewing: "会话 #{id}，{date}",
          status: { bot: "智能助手", waiting: "等待人工客服", assigned: "人工客服服务中", resolved: "已结束" },
          current: "当前", rated: "评分 {n}/5", placeholder: "请输入消息…", send: "发送" }
  };

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function when(iso) {
    var d = new Date(iso), now = new Date();
    if (isNaN(d.getTime())) return "";
    var time = pad(d.getHours()) + ":" + pad(d.getMinutes());
    return d.toDateString() === now.toDateString() ? time : d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + time;
  }

  function ChatWidget(root) {
    this.root = root;
    this.log = root.querySelector("[data-chat-log]");
    this.form = root.querySelector("[data-chat-form]");
    this.input = root.querySelector("[data-chat-input]");
    this.statusLine = root.querySelector("[data-chat-status]");
    this.rating = root.querySelector("[data-chat-rating]");
    this.error = root.querySelector("[data-chat-error]");
    this.history = document.querySelector("[data-chat-history]");
    this.viewing = root.querySelector("[data-chat-viewing]");
    this.sendButton = this.form.querySelector("button[type=submit]");
    this.shownLanguage = null;
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
    var browserLanguage = (navigator.language || "").toLowerCase().indexOf("zh") === 0 ? "zh" : "en";
    this.starting = api("POST", "/api/support/conversations/", { language: browserLanguage }).then(function (data) {
      self.conversation = data;
      self.render(data.messages || []);
      self.showStatus();
      self.showHistory(data.history || []);
      self.timer = setInterval(function () { self.poll(); }, POLL_MS);
    }).catch(function (e) { self.starting = null; self.fail(e); });
    return this.starting;
  };

  // The history list: the shopper's own conversations (the server decides which are theirs).
  ChatWidget.prototype.showHistory = function (rows) {
    var self = this, labels = this.lang();
    if (!this.history) return;
    this.historyRows = rows;
    this.history.textContent = "";
    rows.forEach(function (c) {
      var li = document.createElement("li"), b = document.createElement("button");
      b.type = "button";
      b.className = "chat-history-item";
      b.setAttribute("data-history-id", c.id);
      b.setAttribute("aria-current", String(!!(self.conversation && self.conversation.id === c.id)));
      var title = document.createElement("strong");
      title.textContent = "#" + c.id + " · " + when(c.created_at);
      var meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent = (labels.status[c.status] || c.status) + (c.csat ? " · " + labels.rated.replace("{n}", c.csat) : "");
      var preview = document.createElement("span");
      preview.className = "chat-history-preview";
      preview.textContent = c.preview || "";
      b.appendChild(title); b.appendChild(meta); b.appendChild(preview);
      b.addEventListener("click", function () { self.open(c.id); });
      li.appendChild(b);
      self.history.appendChild(li);
    });
  };

  ChatWidget.prototype.refreshHistory = function () {
    var self = this;
    api("GET", "/api/support/conversations/").then(function (d) { self.showHistory(d.conversations || []); })
      .catch(function () {});
  };

  // Show one of the shopper's own past conversations (the server checks ownership by session/account).
  ChatWidget.prototype.open = function (id) {
    var self = this;
    api("GET", "/api/support/conversations/" + id + "/messages/?after=0").then(function (data) {
      self.conversation = data; self.seen = {}; self.cursor = 0; self.log.textContent = ""; self.shownStatus = null;
      self.render(data.messages || []); self.showStatus(); self.showHistory(self.historyRows || []);
    }).catch(function (e) { self.fail(e); });
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
      .then(function (data) {
        if (!data) return;
        var reopened = self.conversation.status === "resolved";
        self.conversation = Object.assign(self.conversation, data); self.render(data.messages || []); self.showStatus();
        if (reopened || !self.historyRows || !self.historyRows.length) self.refreshHistory();
      })
      .catch(function (e) { self.input.value = text; self.fail(e); });
  };

  ChatWidget.prototype.rate = function (score) {
    var self = this;
    api("POST", "/api/support/conversations/" + this.conversation.id + "/csat/", { score: score })
      .then(function (data) { self.conversation.csat = data.csat; self.showStatus(); self.refreshHistory(); })
      .catch(function (e) { self.fail(e); });
  };

  ChatWidget.prototype.who = function (sender, authorName) {
    var labels = this.lang();
    if (sender === "shopper") return labels.you;
    if (sender === "agent") return authorName ? labels.agent + " · " + authorName : labels.agent;
    return labels.bot;
  };

  ChatWidget.prototype.render = function (messages) {
    for (var i = 0; i < messages.length; i++) {
      var m = messages[i];
      if (this.seen[m.id]) continue;
      this.seen[m.id] = true;
      if (m.id > this.cursor) this.cursor = m.id;
      var row = document.createElement("div");
      row.className = "chat-msg chat-" + m.sender;
      row.setAttribute("data-sender", m.sender);
      var head = document.createElement("div");
      head.className = "chat-head";
      var who = document.createElement("span");
      who.className = "chat-who";
      who.setAttribute("data-author-name", m.author_name || "");
      who.textContent = this.who(m.sender, m.author_name);
      var stamp = document.createElement("time");
      stamp.className = "chat-time";
      stamp.setAttribute("datetime", m.created_at);
      stamp.textContent = when(m.created_at);
      head.appendChild(who);
      head.appendChild(stamp);
      var body = document.createElement("p");
      body.textContent = m.text;
      row.appendChild(head);
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

  // The conversation's language changed (a whole message in the other language): relabel everything.
  ChatWidget.prototype.relabel = function () {
    var self = this, labels = this.lang();
    Array.prototype.forEach.call(this.log.querySelectorAll(".chat-msg"), function (row) {
      var who = row.querySelector(".chat-who");
      who.textContent = self.who(row.getAttribute("data-sender"), who.getAttribute("data-author-name"));
    });
    this.input.placeholder = labels.placeholder;
    if (this.sendButton) this.sendButton.textContent = labels.send;
    if (this.historyRows) this.showHistory(this.historyRows);
  };

  ChatWidget.prototype.showStatus = function () {
    var c = this.conversation, labels = this.lang();
    if (!c) return;
    if (this.shownLanguage !== c.language) { this.shownLanguage = c.language; this.relabel(); }
    if (this.shownStatus && this.shownStatus !== c.status && this.history) this.refreshHistory();
    this.shownStatus = c.status;
    this.root.setAttribute("data-status", c.status);
    this.root.setAttribute("data-language", c.language);
    this.root.setAttribute("data-conversation", c.id);
    if (this.viewing) {
      this.viewing.hidden = false;
      this.viewing.textContent = labels.viewing.replace("{id}", c.id).replace("{date}", when(c.created_at || ""));
    }
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
