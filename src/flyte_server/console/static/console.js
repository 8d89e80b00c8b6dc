// The Flyte console's core: Connect calls over JSON, login, the DOM helper, project/domain scope,
// theme, roles and the page registry. Each page lives in its own file (runs.js, run.js, tasks.js,
// admin.js) and registers itself with FlyteConsole.page(); docs/console.md says how to add one.
// No build step and no libraries: the pages are small and `h()` below is all the DOM code needs.
"use strict";

(() => {
  const services = {
    RUN: "flyteidl2.workflow.RunService",
    TASK: "flyteidl2.task.TaskService",
    PROJECT: "flyteidl2.project.ProjectService",
    DATA_PROXY: "flyteidl2.dataproxy.DataProxyService",
    TRIGGER: "flyteidl2.trigger.TriggerService",
    SECRET: "flyteidl2.secret.SecretService",
    CONSOLE: "flyte.console.ConsoleService",
  };

  const DEFAULT_SCOPE = { project: "flytesnacks", domain: "development" };
  const FALLBACK_DOMAINS = ["development", "staging", "production"];
  const SCOPE_STORAGE_KEY = "flyte-console-scope";
  const THEME_STORAGE_KEY = "flyte-console-theme";
  const TOKEN_STORAGE_KEY = "flyte-console-token";
  const REFRESH_MS = 3000;
  const TERMINAL_PHASES = new Set(["SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT", "RECOVERED"]);
  // The SDK's run links: /v2/domain/<domain>/project/<project>/runs/<run>
  const RUN_LINK = /^\/v2\/domain\/([^/]+)\/project\/([^/]+)\/runs(?:\/([^/]+))?\/?$/;
  // and app links: /v2/domain/<domain>/project/<project>/apps/<app> (the Apps page of that scope)
  const APP_LINK = /^\/v2\/domain\/([^/]+)\/project\/([^/]+)\/apps(?:\/[^/]+)?\/?$/;

  // ---------------------------------------------------------------------------------------------
  // Connect over JSON

  class RpcError extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
    }
  }

  const PROTOCOL_HEADERS = { "Connect-Protocol-Version": "1" };

  // Login (servers started with --auth): an API key is exchanged once for an access token at the
  // OAuth2 token endpoint; the token lives in this tab's sessionStorage and goes out as a bearer
  // token on every call. The key itself is never stored.

  function accessToken() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(TOKEN_STORAGE_KEY) || "null");
      if (saved && saved.token && saved.expiresAt > Date.now()) return saved.token;
    } catch {
      // a damaged entry reads as logged out
    }
    return null;
  }

  function authHeaders() {
    const token = accessToken();
    return token ? { Authorization: `Bearer ${token}` } : {};
  }

  /** The client id and secret of an API key: base64 of endpoint:client_id:client_secret:org. */
  function decodeApiKey(apiKey) {
    let text;
    try {
      text = atob(apiKey.trim());
    } catch {
      throw new Error("That is not an API key (it should be base64 text).");
    }
    const parts = text.split(":");
    if (parts.length < 4) throw new Error("That is not an API key (endpoint:client_id:client_secret:org).");
    return { clientId: parts[parts.length - 3], clientSecret: parts[parts.length - 2] };
  }

  async function logIn(apiKey) {
    const { clientId, clientSecret } = decodeApiKey(apiKey);
    const response = await fetch("/oauth2/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok || !body.access_token) {
      throw new Error(body.error_description || `The server refused the key (HTTP ${response.status}).`);
    }
    const lifetime = Number(body.expires_in) || 300;
    sessionStorage.setItem(
      TOKEN_STORAGE_KEY,
      JSON.stringify({ token: body.access_token, expiresAt: Date.now() + (lifetime - 30) * 1000 }),
    );
  }

  function logOut() {
    sessionStorage.removeItem(TOKEN_STORAGE_KEY);
    identity = null;
    showLogin("Logged out.");
  }

  let loginForm = null;

  /** Replace the page's content with the login form (the same form, however many calls were refused). */
  function showLogin(reason) {
    if (currentView) currentView.close();
    currentView = null;
    if (loginForm && loginForm.isConnected) return; // already asking (other calls were refused too)
    sessionStorage.removeItem(TOKEN_STORAGE_KEY);
    document.getElementById("logout").hidden = true;
    if (!loginForm) {
      const input = h("input", { type: "password", id: "api-key", autocomplete: "off", placeholder: "API key" });
      const problem = h("p", { class: "error", id: "login-error" });
      loginForm = h(
        "form",
        { class: "login", id: "login" },
        h("h1", {}, "Log in"),
        h("p", {}, "This server requires authentication. Paste an API key (flyte create api-key NAME)."),
        input,
        h("button", { type: "submit" }, "Log in"),
        problem,
      );
      loginForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        try {
          await logIn(input.value);
          input.value = "";
          problem.textContent = "";
          document.getElementById("logout").hidden = false;
          identityReady = loadIdentity();
          await identityReady;
          loadProjects();
          route();
        } catch (error) {
          problem.textContent = error.message;
        }
      });
    }
    loginForm.querySelector("#login-error").textContent = reason || "";
    fill(document.getElementById("main"), loginForm);
  }

  function refused(code, message) {
    if (code === "unauthenticated") showLogin(message);
    return new RpcError(code, message);
  }

  /** A unary call: the request and the response are plain JSON bodies; errors are {code, message}. */
  async function call(service, method, request) {
    const response = await fetch(`/${service}/${method}`, {
      method: "POST",
      headers: { ...PROTOCOL_HEADERS, ...authHeaders(), "Content-Type": "application/json" },
      body: JSON.stringify(request),
    });
    const text = await response.text();
    let body;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      throw new RpcError("unknown", `HTTP ${response.status}: ${text.slice(0, 200)}`);
    }
    if (!response.ok) {
      throw refused(body.code || "unknown", body.message || `HTTP ${response.status}`);
    }
    return body;
  }

  /**
   * A server-streaming call. Each message travels in an envelope: one flag byte, a 4-byte
   * big-endian length, then the JSON. The envelope flagged 2 ends the stream and carries the
   * error, if there was one.
   */
  async function stream(service, method, request, onMessage, signal) {
    const payload = new TextEncoder().encode(JSON.stringify(request));
    const frame = new Uint8Array(5 + payload.length);
    new DataView(frame.buffer).setUint32(1, payload.length);
    frame.set(payload, 5);
    const response = await fetch(`/${service}/${method}`, {
      method: "POST",
      headers: { ...PROTOCOL_HEADERS, ...authHeaders(), "Content-Type": "application/connect+json" },
      body: frame,
      signal,
    });
    if (!response.ok) {
      const text = await response.text();
      let error = {};
      try {
        error = JSON.parse(text);
      } catch {
        // not a Connect error body; the status says enough
      }
      throw refused(error.code || "unknown", error.message || `HTTP ${response.status}`);
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = new Uint8Array(0);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        throw new RpcError("unavailable", "the stream ended without its last message");
      }
      buffer = concatBytes(buffer, value);
      while (buffer.length >= 5) {
        const size = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength).getUint32(1);
        if (buffer.length < 5 + size) break;
        const flags = buffer[0];
        if (flags & 1) throw new RpcError("internal", "the server sent a compressed message");
        const message = JSON.parse(decoder.decode(buffer.subarray(5, 5 + size)));
        buffer = buffer.slice(5 + size);
        if (flags & 2) {
          if (message.error) {
            throw refused(message.error.code || "unknown", message.error.message || "the stream failed");
          }
          return;
        }
        onMessage(message);
      }
    }
  }

  function concatBytes(a, b) {
    const joined = new Uint8Array(a.length + b.length);
    joined.set(a, 0);
    joined.set(b, a.length);
    return joined;
  }

  // ---------------------------------------------------------------------------------------------
  // DOM and formatting helpers

  /** An element with attributes (``on*`` become listeners) and children (text is never parsed as HTML). */
  function h(tag, attributes, ...children) {
    const svg = tag.startsWith("svg:");
    const element = svg
      ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
      : document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
      else if (key === "className") element.setAttribute("class", value);
      else if (key === "style") setStyle(element, value);
      else element.setAttribute(key, value === true ? "" : String(value));
    }
    element.append(...nodes(children));
    return element;
  }

  /** Inline styles through the CSSOM (the page's CSP refuses style attributes): "left:1%;width:2%". */
  function setStyle(element, text) {
    for (const declaration of String(text).split(";")) {
      const at = declaration.indexOf(":");
      if (at > 0) element.style.setProperty(declaration.slice(0, at).trim(), declaration.slice(at + 1).trim());
    }
  }

  /** Replace an element's children (the same kinds of children as ``h`` takes). */
  function fill(element, ...children) {
    element.replaceChildren(...nodes(children));
  }

  function nodes(children) {
    return children
      .flat(Infinity)
      .filter((child) => child !== undefined && child !== null && child !== false)
      .map((child) => (child instanceof Node ? child : String(child)));
  }

  function phaseName(phase) {
    return (phase || "ACTION_PHASE_UNSPECIFIED").replace(/^ACTION_PHASE_/, "");
  }

  function isTerminal(phase) {
    return TERMINAL_PHASES.has(phaseName(phase));
  }

  function phaseClass(phase) {
    return `phase-${phaseName(phase).toLowerCase().replace(/_/g, "-")}`;
  }

  function phaseBadge(phase) {
    const name = phaseName(phase);
    return h("span", { className: `phase ${phaseClass(phase)}` }, name.replace(/_/g, " "));
  }

  const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

  function formatTime(value) {
    return value ? dateFormat.format(new Date(value)) : "—";
  }

  /** Milliseconds an action (status) or attempt has taken so far, or null before it started. */
  function elapsedMs(item) {
    if (!item || !item.startTime) return null;
    if (item.durationMs !== undefined && isTerminal(item.phase)) return Number(item.durationMs);
    const end = item.endTime ? Date.parse(item.endTime) : Date.now();
    return end - Date.parse(item.startTime);
  }

  function formatDuration(ms) {
    if (ms === null || Number.isNaN(ms)) return "—";
    if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
    const seconds = Math.floor(ms / 1000);
    const pad = (n) => String(n).padStart(2, "0");
    const hours = Math.floor(seconds / 3600);
    const minutes = Math.floor(seconds / 60) % 60;
    return hours ? `${hours}h ${pad(minutes)}m` : `${minutes}m ${pad(seconds % 60)}s`;
  }

  function taskLabel(metadata) {
    if (!metadata) return "";
    if (metadata.task) return metadata.task.id?.name || metadata.task.shortName || "";
    if (metadata.trace) return metadata.trace.name || "trace";
    if (metadata.condition) return metadata.condition.name || "condition";
    return metadata.funtionName || "";
  }

  function shortLabel(action) {
    const metadata = action.metadata || {};
    return metadata.task?.shortName || metadata.funtionName || metadata.trace?.name || metadata.condition?.name || action.id.name;
  }

  function errorText(info) {
    if (!info) return "";
    return info.code ? `${info.code}: ${info.message || ""}` : info.message || "";
  }

  function describeError(error) {
    return error instanceof RpcError ? `${error.message} (${error.code})` : String(error);
  }

  /** A trigger's schedule in words: "cron 0 7 * * *", "every 5 minute". */
  function scheduleText(trigger) {
    const spec = trigger.automationSpec?.schedule;
    if (!spec) return "—";
    if (spec.cron) return `cron ${spec.cron.expression || ""}${spec.cron.timezone ? ` (${spec.cron.timezone})` : ""}`;
    if (spec.cronExpression) return `cron ${spec.cronExpression}`;
    if (spec.rate) return `every ${spec.rate.value} ${(spec.rate.unit || "").replace("FIXED_RATE_UNIT_", "").toLowerCase()}`;
    return "—";
  }

  /** A signed blob URL made relative, so it is fetched from the origin the page was loaded from. */
  function sameOrigin(url) {
    try {
      const parsed = new URL(url, location.href);
      return parsed.pathname + parsed.search;
    } catch {
      return url;
    }
  }

  /** A button that asks once more before it acts (no modal dialogs: they block phones and tests). */
  function confirmButton(label, confirmLabel, attributes, action) {
    const button = h("button", { type: "button", ...attributes }, label);
    let armed = false;
    let timer = null;
    button.addEventListener("click", async () => {
      if (!armed) {
        armed = true;
        button.textContent = confirmLabel;
        button.classList.add("armed");
        timer = setTimeout(() => {
          armed = false;
          button.textContent = label;
          button.classList.remove("armed");
        }, 5000);
        return;
      }
      clearTimeout(timer);
      armed = false;
      button.disabled = true;
      button.classList.remove("armed");
      try {
        await action();
      } finally {
        button.disabled = false;
        button.textContent = label;
      }
    });
    return button;
  }

  // ---------------------------------------------------------------------------------------------
  // Who is calling, and what they may do

  let identity = null;

  async function loadIdentity() {
    try {
      identity = await call(services.CONSOLE, "GetIdentity", {});
    } catch {
      identity = null;
    }
    const who = document.getElementById("who");
    if (who) {
      who.textContent = identity && identity.auth ? `${identity.subject} (${identity.role})` : "";
    }
    return identity;
  }

  /** Whether the caller's role grants ``access`` ("read", "write" or "admin"); unknown → read only. */
  function can(access) {
    if (access === "read") return true;
    const role = identity?.role;
    if (!role) return false;
    if (role === "admin") return true;
    return access === "write" && (role === "user" || role === "task");
  }

  // ---------------------------------------------------------------------------------------------
  // Project and domain

  let scope = loadScope();

  function loadScope() {
    try {
      const saved = JSON.parse(localStorage.getItem(SCOPE_STORAGE_KEY) || "null");
      if (saved && saved.project && saved.domain) return { project: saved.project, domain: saved.domain };
    } catch {
      // storage unavailable or garbled: use the default
    }
    return { ...DEFAULT_SCOPE };
  }

  function setScope(project, domain) {
    scope = { project, domain };
    try {
      localStorage.setItem(SCOPE_STORAGE_KEY, JSON.stringify(scope));
    } catch {
      // private mode: the choice lasts for this page only
    }
    fillScopeSelectors();
  }

  let knownProjects = [];

  async function loadProjects() {
    try {
      const response = await call(services.PROJECT, "ListProjects", { limit: 100 });
      knownProjects = response.projects?.projects || [];
    } catch {
      knownProjects = [];
    }
    fillScopeSelectors();
    return knownProjects;
  }

  function fillScopeSelectors() {
    const projectSelect = document.getElementById("scope-project");
    const domainSelect = document.getElementById("scope-domain");
    const projectNames = knownProjects.map((project) => project.id);
    if (!projectNames.includes(scope.project)) projectNames.push(scope.project);
    const project = knownProjects.find((candidate) => candidate.id === scope.project);
    const domainNames = project?.domains?.length ? project.domains.map((domain) => domain.id) : [...FALLBACK_DOMAINS];
    if (!domainNames.includes(scope.domain)) domainNames.push(scope.domain);
    fill(projectSelect, ...projectNames.map((name) => h("option", { value: name }, name)));
    fill(domainSelect, ...domainNames.map((name) => h("option", { value: name }, name)));
    projectSelect.value = scope.project;
    domainSelect.value = scope.domain;
  }

  function onScopeChange() {
    const project = document.getElementById("scope-project").value;
    const domain = document.getElementById("scope-domain").value;
    setScope(project, domain);
    // Names of runs and tasks belong to a project and domain: go back to the section's list.
    const section = parseHash().parts[0] || "runs";
    const target = `#/${pages.has(section) ? section : "runs"}`;
    if (location.hash === target) route();
    else location.hash = target;
  }

  // ---------------------------------------------------------------------------------------------
  // Theme: the system's unless chosen; the choice is kept in localStorage.

  function applyTheme(theme) {
    if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
    else delete document.documentElement.dataset.theme;
  }

  function toggleTheme() {
    const current =
      document.documentElement.dataset.theme ||
      (window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
    const next = current === "dark" ? "light" : "dark";
    applyTheme(next);
    try {
      localStorage.setItem(THEME_STORAGE_KEY, next);
    } catch {
      // private mode
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Pages and routing: #/<page>/<more parts>?<params>

  /** What one view owns: its refresh timer and open streams, all dropped when the view changes. */
  class View {
    constructor() {
      this.closed = false;
      this.timer = null;
      this.controller = new AbortController();
      this.cleanups = [];
    }

    /** Call ``refresh`` now and every REFRESH_MS after it finishes, until it returns false. */
    poll(refresh, every = REFRESH_MS) {
      const tick = async () => {
        if (this.closed) return;
        let again = true;
        try {
          again = (await refresh()) !== false;
        } finally {
          if (!this.closed && again) this.timer = setTimeout(tick, every);
        }
      };
      tick();
    }

    /** Run ``cleanup`` when the view closes. */
    onClose(cleanup) {
      this.cleanups.push(cleanup);
    }

    close() {
      this.closed = true;
      clearTimeout(this.timer);
      this.controller.abort();
      for (const cleanup of this.cleanups) cleanup();
    }
  }

  /** name → {nav, render(root, view, parts, params)} in the order registered. */
  const pages = new Map();

  /**
   * Register a page at #/<name>. ``nav`` (optional) is its label in the top bar; ``render`` fills
   * ``root`` and may use ``view`` for timers and streams that must stop when the user leaves.
   */
  function page(name, definition) {
    pages.set(name, definition);
  }

  let currentView = null;

  function parseHash() {
    const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
    let parts;
    try {
      parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    } catch {
      parts = [];
    }
    return { parts, params: new URLSearchParams(query || "") };
  }

  function renderNav() {
    const nav = document.getElementById("nav");
    fill(
      nav,
      ...[...pages.entries()]
        .filter(([, definition]) => definition.nav)
        .map(([name, definition]) => h("a", { href: `#/${name}`, "data-nav": name }, definition.nav)),
    );
  }

  function route() {
    if (currentView) currentView.close();
    const view = new View();
    currentView = view;
    const { parts, params } = parseHash();
    if (params.get("project") && params.get("domain")) setScope(params.get("project"), params.get("domain"));
    const main = document.getElementById("main");
    fill(main);
    const name = pages.has(parts[0]) ? parts[0] : "runs";
    for (const link of document.querySelectorAll("[data-nav]")) {
      link.classList.toggle("active", link.dataset.nav === name);
    }
    const definition = pages.get(name);
    if (definition) definition.render(main, view, parts.slice(1), params);
  }

  /** Go to a hash route (and render it even when the hash does not change). */
  function go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  // ---------------------------------------------------------------------------------------------
  // Start (after every page's script has registered: all scripts are deferred, in order)

  async function start() {
    const link = RUN_LINK.exec(location.pathname);
    if (link) {
      const [, domain, project, run] = link.map((part) => (part === undefined ? part : decodeURIComponent(part)));
      setScope(project, domain);
      history.replaceState(null, "", run ? `/v2#/runs/${encodeURIComponent(run)}` : "/v2#/runs");
    }
    const appLink = APP_LINK.exec(location.pathname);
    if (appLink) {
      setScope(decodeURIComponent(appLink[2]), decodeURIComponent(appLink[1]));
      history.replaceState(null, "", "/v2#/apps");
    }
    try {
      applyTheme(localStorage.getItem(THEME_STORAGE_KEY));
    } catch {
      // private mode
    }
    renderNav();
    fillScopeSelectors();
    document.getElementById("scope-project").addEventListener("change", onScopeChange);
    document.getElementById("scope-domain").addEventListener("change", onScopeChange);
    document.getElementById("scope").addEventListener("submit", (event) => event.preventDefault());
    document.getElementById("theme").addEventListener("click", toggleTheme);
    window.addEventListener("hashchange", route);
    document.getElementById("logout").hidden = accessToken() === null;
    document.getElementById("logout").addEventListener("click", (event) => {
      event.preventDefault();
      logOut();
    });
    loadProjects();
    // The first page renders at once; buttons that need a role wait for identityReady.
    identityReady = loadIdentity();
    route();
  }

  let identityReady = Promise.resolve(null);

  window.FlyteConsole = {
    services,
    RpcError,
    call,
    stream,
    h,
    fill,
    page,
    go,
    can,
    get scope() {
      return scope;
    },
    get identity() {
      return identity;
    },
    /** Resolves once the caller's role is known (pages wait for it before offering actions). */
    get identityReady() {
      return identityReady;
    },
    setScope,
    loadProjects,
    phaseName,
    phaseClass,
    phaseBadge,
    isTerminal,
    formatTime,
    formatDuration,
    elapsedMs,
    taskLabel,
    shortLabel,
    errorText,
    describeError,
    sameOrigin,
    scheduleText,
    confirmButton,
  };

  document.addEventListener("DOMContentLoaded", start);
})();
