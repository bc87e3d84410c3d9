// golive war room: sign in, fetch server-rendered panels with the bearer token, follow the run over SSE,
// swap only the panels that changed, tick countdowns, and send acts. No framework, no CDN.
"use strict";
(function () {
  const KEY = "golive.token";
  const body = document.body;
  const page = body.dataset.page;
  const runId = body.dataset.run;
  const main = document.getElementById("main");
  const loginBox = document.getElementById("login");
  const liveBadge = document.getElementById("live");
  const flashBox = document.getElementById("flash");
  const lastHtml = new Map();
  let lastSeq = 0;
  let source = null;
  let refreshing = false;
  let refreshAgain = false;
  let reconnectDelay = 1000;
  let flashTimer = null;

  const token = () => sessionStorage.getItem(KEY);

  function flash(message, kind) {
    flashBox.textContent = message;
    flashBox.className = "flash " + (kind || "ok");
    flashBox.hidden = false;
    clearTimeout(flashTimer);
    flashTimer = setTimeout(() => { flashBox.hidden = true; }, kind === "error" ? 12000 : 5000);
  }

  function showLogin(message) {
    sessionStorage.removeItem(KEY);
    if (source) { source.close(); source = null; }
    main.hidden = true;
    loginBox.hidden = false;
    document.getElementById("logout").hidden = true;
    document.getElementById("who").textContent = "";
    liveBadge.hidden = true;
    const err = document.getElementById("login-error");
    err.hidden = !message;
    err.textContent = message || "";
  }

  async function api(path, options) {
    const opts = Object.assign({ cache: "no-store" }, options || {});
    opts.headers = Object.assign({}, opts.headers || {}, { Authorization: "Bearer " + token() });
    const resp = await fetch(path, opts);
    if (resp.status === 401) {
      showLogin("The server refused the token; sign in again.");
      throw new Error("unauthorized");
    }
    return resp;
  }

  async function errorText(resp) {
    try {
      const data = await resp.json();
      return data.message || resp.statusText;
    } catch (e) {
      return resp.status + " " + resp.statusText;
    }
  }

  // --- panels ---------------------------------------------------------------------------------------
  function carryOver(oldPanel, newPanel) {
    // Keep what a person is typing (and where the cursor is) when a panel is re-rendered.
    const active = document.activeElement;
    let focusKey = null;
    oldPanel.querySelectorAll("form[data-key] input, form[data-key] select, form[data-key] textarea").forEach((el) => {
      const form = el.closest("form[data-key]");
      const twin = newPanel.querySelector('form[data-key="' + form.dataset.key + '"] [name="' + el.name + '"]');
      if (!twin || el.type === "file" || el.type === "hidden") return;
      if (el.value !== el.defaultValue) twin.value = el.value;
      if (el === active) focusKey = twin;
    });
    oldPanel.querySelectorAll("details[id]").forEach((d) => {
      if (d.dataset.touched) {
        const twin = newPanel.querySelector("#" + CSS.escape(d.id));
        if (twin) { twin.open = d.open; twin.dataset.touched = "1"; }
      }
    });
    return focusKey;
  }

  function swap(container, html) {
    const tpl = document.createElement("template");
    tpl.innerHTML = html.trim();
    const fresh = tpl.content.firstElementChild;
    const current = container.firstElementChild;
    // A new layout (the rollback panel moves to the top while rolling back) is a whole new page.
    if (!current || current.id !== fresh.id || current.dataset.layout !== fresh.dataset.layout) {
      container.replaceChildren(fresh);
      lastHtml.clear();
      fresh.querySelectorAll(".panel[id]").forEach((p) => lastHtml.set(p.id, p.outerHTML));
      return fresh;
    }
    for (const name of fresh.getAttributeNames()) current.setAttribute(name, fresh.getAttribute(name));
    fresh.querySelectorAll(".panel[id]").forEach((panel) => {
      const markup = panel.outerHTML;
      if (lastHtml.get(panel.id) === markup) return;
      lastHtml.set(panel.id, markup);
      const old = document.getElementById(panel.id);
      if (!old) return;
      const clone = panel.cloneNode(true);
      const focus = carryOver(old, clone);
      old.replaceWith(clone);
      if (focus) focus.focus();
    });
    return current;
  }

  function tick() {
    const now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach((el) => {
      const left = Math.round((Date.parse(el.dataset.deadline) - now) / 1000);
      if (isNaN(left)) return;
      if (left <= 0) { el.textContent = "0:00"; el.classList.add("urgent"); return; }
      const m = Math.floor(left / 60), s = left % 60;
      el.textContent = m + ":" + String(s).padStart(2, "0");
      el.classList.toggle("urgent", left < 60);
    });
    document.querySelectorAll("[data-anchor]").forEach((el) => {
      const secs = Math.round((now - Date.parse(el.dataset.anchor)) / 1000);
      if (isNaN(secs)) return;
      const a = Math.abs(secs), h = Math.floor(a / 3600), m = Math.floor((a % 3600) / 60);
      const text = (h ? h + "h" : "") + (m || !h ? m + "m" : "");
      el.textContent = "now " + (secs < 0 ? "T-" : "T+") + text;
    });
  }

  // --- the run page ---------------------------------------------------------------------------------
  async function loadRun() {
    const resp = await api("/ui/runs/" + encodeURIComponent(runId));
    if (!resp.ok) { main.textContent = await errorText(resp); return; }
    const root = swap(main, await resp.text());
    lastSeq = Math.max(lastSeq, parseInt(root.dataset.seq || "0", 10));
    tick();
  }

  function scheduleRefresh() {
    if (refreshing) { refreshAgain = true; return; }
    refreshing = true;
    setTimeout(async () => {
      try { await loadRun(); } catch (e) { /* shown by api() */ }
      refreshing = false;
      if (refreshAgain) { refreshAgain = false; scheduleRefresh(); }
    }, 20);
  }

  async function connect() {
    if (!token()) return;
    let ticket;
    try {
      const resp = await api("/api/v1/runs/" + encodeURIComponent(runId) + "/events/ticket", { method: "POST" });
      if (!resp.ok) throw new Error(await errorText(resp));
      ticket = await resp.json();
    } catch (e) {
      if (!token()) return;
      liveBadge.textContent = "offline";
      setTimeout(connect, reconnectDelay);
      reconnectDelay = Math.min(reconnectDelay * 2, 30000);
      return;
    }
    source = new EventSource(ticket.url + "&after=" + lastSeq);
    liveBadge.hidden = false;
    liveBadge.textContent = "connecting…";
    source.onopen = () => { liveBadge.textContent = "live"; liveBadge.className = "live on"; reconnectDelay = 1000; };
    source.onmessage = (m) => {
      try {
        const ev = JSON.parse(m.data);
        lastSeq = Math.max(lastSeq, ev.seq);
      } catch (e) { /* a malformed event still means something changed */ }
      scheduleRefresh();
    };
    source.onerror = () => {
      liveBadge.textContent = "reconnecting…";
      liveBadge.className = "live";
      if (source && source.readyState === EventSource.CLOSED) {
        // The ticket expired or the server restarted: get a new ticket and resume after the last seq.
        source = null;
        setTimeout(() => { scheduleRefresh(); connect(); }, reconnectDelay);
        reconnectDelay = Math.min(reconnectDelay * 2, 30000);
      }
    };
  }

  // An approval link (?link=...) opens the act it was sent for, for the person signed in: the server checks
  // that they are the person named, that it is unused and unexpired, and records its use. It never acts.
  async function openLink() {
    const params = new URLSearchParams(window.location.search);
    const link = params.get("link");
    if (!link) return;
    // A link opens once: it leaves the address bar whatever the answer, so a reload does not use it again.
    params.delete("link");
    const rest = params.toString();
    history.replaceState(null, "", window.location.pathname + (rest ? "?" + rest : "") + window.location.hash);
    const resp = await api("/api/v1/runs/" + encodeURIComponent(runId) + "/links/open", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ link: link }),
    });
    if (!resp.ok) { flash(await errorText(resp), "error"); return; }
    const data = await resp.json();
    const what = data.act === "decide" ? "the decision " : "the step ";
    flash("Your link opened " + what + data.step + ": nothing is recorded until you act.", "ok");
    const target = document.getElementById((data.waiting_for === "manual" ? "manual-" : "decision-") + data.step);
    if (target) {
      target.classList.add("linked");
      target.scrollIntoView({ block: "center" });
      const field = target.querySelector("form input:not([type=hidden])");
      if (field) field.focus();
    }
  }

  // --- the runs page --------------------------------------------------------------------------------
  async function loadRuns() {
    const resp = await api("/ui/runs");
    if (!resp.ok) { main.textContent = await errorText(resp); return; }
    swap(main, await resp.text());
    const select = main.querySelector("[data-runbooks]");
    if (select && !select.options.length) {
      const r = await api("/api/v1/runbooks");
      if (r.ok) {
        const data = await r.json();
        for (const rb of data.runbooks) {
          const opt = document.createElement("option");
          opt.value = rb.path;
          opt.textContent = rb.title + " (" + rb.path + ")";
          select.appendChild(opt);
        }
      }
    }
  }

  // --- acts -----------------------------------------------------------------------------------------
  function pairs(text) {
    const out = {};
    for (const part of text.split(",")) {
      const i = part.indexOf("=");
      if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
    }
    return out;
  }

  function jsonBody(form, submitter) {
    const data = new FormData(form);
    if (submitter && submitter.name) data.set(submitter.name, submitter.value);
    const obj = {};
    for (const [k, v] of data.entries()) {
      if (v instanceof File) continue;
      const field = form.querySelector('[name="' + k + '"]');
      if (k.startsWith("inputs.")) {
        if (v === "") continue;
        obj.inputs = obj.inputs || {};
        obj.inputs[k.slice(7)] = v;
      } else if (k.startsWith("fields.")) {
        if (v === "") continue;
        obj.fields = obj.fields || {};
        obj.fields[k.slice(7)] = v;
      } else if (k === "failed") {
        obj.failed = v === "true";
      } else if (field && field.hasAttribute("data-pairs")) {
        obj[k] = pairs(v);
      } else {
        obj[k] = v;
      }
    }
    if (form.dataset.body === "assign") return { roles: { [obj.role]: obj.person } };
    return obj;
  }

  document.addEventListener("submit", async (e) => {
    const form = e.target.closest("form.act");
    if (!form) return;
    e.preventDefault();
    if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
    const obj = jsonBody(form, e.submitter);
    const files = form.querySelector('input[type="file"]');
    const opts = { method: "POST" };
    if (files && files.files.length) {
      const fd = new FormData();
      fd.set("inputs", JSON.stringify(obj.inputs || {}));
      fd.set("failed", obj.failed ? "true" : "false");
      fd.set("reason", obj.reason || "");
      for (const f of files.files) fd.append("evidence", f, f.name);
      opts.body = fd;
    } else {
      opts.body = JSON.stringify(obj);
      opts.headers = { "Content-Type": "application/json" };
    }
    const buttons = form.querySelectorAll("button");
    const wasDisabled = Array.from(buttons, (b) => b.disabled);
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const resp = await api(form.dataset.url, opts);
      if (resp.ok) {
        const data = await resp.json();
        flash(data.message || "done", "ok");
        if (form.dataset.then === "open-run" && data.run_id) { window.location.href = "/runs/" + data.run_id; return; }
        form.reset();
      } else {
        flash(await errorText(resp), "error");
      }
    } catch (err) {
      if (token()) flash(String(err.message || err), "error");
    } finally {
      buttons.forEach((b, i) => { b.disabled = wasDisabled[i]; });
    }
    if (page === "run") scheduleRefresh(); else loadRuns();
  });

  document.addEventListener("click", async (e) => {
    const link = e.target.closest("a[data-download]");
    const toggle = e.target.closest("details[id] > summary");
    if (toggle) toggle.parentElement.dataset.touched = "1";
    if (!link) return;
    e.preventDefault();
    try {
      const resp = await api(link.getAttribute("href"));
      if (!resp.ok) { flash(await errorText(resp), "error"); return; }
      const disp = resp.headers.get("Content-Disposition") || "";
      const match = /filename="([^"]+)"/.exec(disp);
      const url = URL.createObjectURL(await resp.blob());
      const a = document.createElement("a");
      a.href = url;
      a.download = match ? match[1] : "download";
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) { /* shown by api() */ }
  });

  // --- start ----------------------------------------------------------------------------------------
  async function start() {
    loginBox.hidden = true;
    main.hidden = false;
    document.getElementById("logout").hidden = false;
    try {
      const resp = await api("/api/v1/me");
      if (!resp.ok) return;
      const me = await resp.json();
      document.getElementById("who").textContent = me.user + (me.roles.length ? " (" + me.roles.join(", ") + ")" : "");
      if (page === "run") {
        await loadRun();
        connect();
        await openLink();
      } else {
        await loadRuns();
        setInterval(() => { if (!document.hidden && token()) loadRuns().catch(() => {}); }, 5000);
      }
    } catch (e) { /* shown by api() */ }
  }

  document.getElementById("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const value = e.target.elements.token.value.trim();
    const resp = await fetch("/api/v1/me", { headers: { Authorization: "Bearer " + value }, cache: "no-store" });
    if (resp.ok) {
      sessionStorage.setItem(KEY, value);
      e.target.reset();
      start();
    } else {
      showLogin(await errorText(resp));
    }
  });
  document.getElementById("logout").addEventListener("click", () => {
    // A single sign-on session ends at the server too (its token is revoked); the cookie is for /auth only.
    fetch("/auth/logout", { method: "POST", credentials: "same-origin" }).catch(() => {});
    showLogin("");
  });
  setInterval(tick, 1000);

  // Single sign-on: when the server offers it, show the button, and pick up this browser's login session
  // (an HttpOnly cookie sent only to /auth) as the tab's bearer token.
  async function signIn() {
    if (token()) { start(); return; }
    try {
      const conf = await (await fetch("/auth/config", { cache: "no-store" })).json();
      if (conf.oidc) {
        const link = document.getElementById("sso-login");
        link.href = "/auth/login?next=" + encodeURIComponent(location.pathname + location.search);
        document.getElementById("sso").hidden = false;
        const resp = await fetch("/auth/session", { credentials: "same-origin", cache: "no-store" });
        if (resp.ok) {
          sessionStorage.setItem(KEY, (await resp.json()).token);
          start();
          return;
        }
      }
    } catch (e) { /* no single sign-on: the token form stays */ }
    showLogin("");
  }
  signIn();
})();
