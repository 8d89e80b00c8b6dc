// The Flyte console: three views (runs, one run, tasks) over the server's Connect services,
// called from the browser with the Connect protocol's JSON encoding. No build step, no libraries.
"use strict";

(() => {
  const RUN_SERVICE = "flyteidl2.workflow.RunService";
  const TASK_SERVICE = "flyteidl2.task.TaskService";
  const PROJECT_SERVICE = "flyteidl2.project.ProjectService";
  const DATA_PROXY_SERVICE = "flyteidl2.dataproxy.DataProxyService";

  const DEFAULT_SCOPE = { project: "flytesnacks", domain: "development" };
  const FALLBACK_DOMAINS = ["development", "staging", "production"];
  const SCOPE_STORAGE_KEY = "flyte-console-scope";
  const REFRESH_MS = 3000;
  const RUNS_PAGE = 50;
  const ACTIONS_PAGE = 500;
  const MAX_ACTIONS = 5000;
  const MAX_LOG_LINES = 20000;
  const TERMINAL_PHASES = new Set(["SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT", "RECOVERED"]);
  // The SDK's run links: /v2/domain/<domain>/project/<project>/runs/<run>
  const RUN_LINK = /^\/v2\/domain\/([^/]+)\/project\/([^/]+)\/runs(?:\/([^/]+))?\/?$/;

  // ---------------------------------------------------------------------------------------------
  // Connect over JSON

  class RpcError extends Error {
    constructor(code, message) {
      super(message);
      this.code = code;
    }
  }

  const PROTOCOL_HEADERS = { "Connect-Protocol-Version": "1" };
  const TOKEN_STORAGE_KEY = "flyte-console-token";

  // -----------------------------------------------------------------------------------------------
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
    const element = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
      else if (key === "className") element.className = value;
      else element.setAttribute(key, value === true ? "" : String(value));
    }
    element.append(...nodes(children));
    return element;
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

  function phaseBadge(phase) {
    const name = phaseName(phase);
    return h("span", { className: `phase phase-${name.toLowerCase().replace(/_/g, "-")}` }, name.replace(/_/g, " "));
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
    return metadata.task?.shortName || metadata.funtionName || metadata.trace?.name || action.id.name;
  }

  function errorText(info) {
    if (!info) return "";
    return info.code ? `${info.code}: ${info.message || ""}` : info.message || "";
  }

  function describeError(error) {
    return error instanceof RpcError ? `${error.message} (${error.code})` : String(error);
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
      const response = await call(PROJECT_SERVICE, "ListProjects", { limit: 100 });
      knownProjects = response.projects?.projects || [];
    } catch {
      knownProjects = [];
    }
    fillScopeSelectors();
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
    // Run names belong to a project and domain, so a run page makes no sense in another one.
    if (location.hash.startsWith("#/tasks")) route();
    else if (location.hash === "#/runs") route();
    else location.hash = "#/runs";
  }

  // ---------------------------------------------------------------------------------------------
  // Routing: #/runs, #/runs/<run>, #/runs/<run>/<action>, #/tasks

  /** What one view owns: its refresh timer and open streams, all dropped when the view changes. */
  class View {
    constructor() {
      this.closed = false;
      this.timer = null;
      this.controller = new AbortController();
    }

    /** Call ``refresh`` now and every REFRESH_MS after it finishes, until it returns false. */
    poll(refresh) {
      const tick = async () => {
        if (this.closed) return;
        let again = true;
        try {
          again = (await refresh()) !== false;
        } finally {
          if (!this.closed && again) this.timer = setTimeout(tick, REFRESH_MS);
        }
      };
      tick();
    }

    close() {
      this.closed = true;
      clearTimeout(this.timer);
      this.controller.abort();
    }
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

  function route() {
    if (currentView) currentView.close();
    const view = new View();
    currentView = view;
    const { parts, params } = parseHash();
    if (params.get("project") && params.get("domain")) setScope(params.get("project"), params.get("domain"));
    const main = document.getElementById("main");
    fill(main);
    const section = parts[0] === "tasks" ? "tasks" : "runs";
    for (const link of document.querySelectorAll("[data-nav]")) {
      link.classList.toggle("active", link.dataset.nav === section);
    }
    if (parts[0] === "runs" && parts[1]) showRun(main, view, parts[1], parts[2] || "a0");
    else if (parts[0] === "tasks") showTasks(main, view);
    else showRuns(main, view, params.get("task"));
  }

  // ---------------------------------------------------------------------------------------------
  // Runs

  function showRuns(root, view, taskName) {
    const { project, domain } = scope;
    let limit = RUNS_PAGE;
    const updated = h("span", { className: "muted" });
    const problem = h("p", { className: "error", hidden: true });
    const rows = h("tbody");
    const more = h("button", { type: "button", className: "more", hidden: true }, "Show older runs");
    more.addEventListener("click", () => {
      limit += RUNS_PAGE;
      refresh();
    });
    const heading = taskName
      ? [h("h1", {}, "Runs of ", h("code", {}, taskName)), h("a", { href: "#/runs" }, "all runs")]
      : [h("h1", {}, "Runs")];
    root.append(
      h("div", { className: "title" }, heading, updated),
      problem,
      h(
        "table",
        { className: "list", id: "runs" },
        h("thead", {}, h("tr", {}, ["Run", "Task", "Phase", "Started", "Duration"].map((text) => h("th", {}, text)))),
        rows,
      ),
      more,
    );

    async function refresh() {
      const request = { request: { limit } };
      if (taskName) request.taskName = { project, domain, name: taskName };
      else request.projectId = { name: project, domain };
      let response;
      try {
        response = await call(RUN_SERVICE, "ListRuns", request);
      } catch (error) {
        problem.textContent = `Cannot list runs: ${describeError(error)}`;
        problem.hidden = false;
        return;
      }
      if (view.closed) return;
      problem.hidden = true;
      const runs = response.runs || [];
      fill(rows, ...runs.map(runRow));
      if (!runs.length) {
        rows.append(
          h("tr", {}, h("td", { colspan: 5, className: "empty" }, `No runs in ${project} / ${domain} yet.`)),
        );
      }
      more.hidden = !response.token;
      updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
    }

    function runRow(run) {
      const action = run.action;
      const name = action.id.run.name;
      const trigger = action.metadata?.triggerName;
      return h(
        "tr",
        { className: "run", "data-run": name },
        h("td", {}, h("a", { href: `#/runs/${encodeURIComponent(name)}` }, name)),
        h(
          "td",
          {},
          taskLabel(action.metadata),
          trigger ? h("span", { className: "muted" }, ` (trigger ${trigger})`) : null,
        ),
        h("td", {}, phaseBadge(action.status?.phase)),
        h("td", {}, formatTime(action.status?.startTime)),
        h("td", { className: "number" }, formatDuration(elapsedMs({ ...action.status }))),
      );
    }

    view.poll(refresh);
  }

  // ---------------------------------------------------------------------------------------------
  // One run: its actions as a tree, the selected action's attempts and log

  function showRun(root, view, runName, initialAction) {
    const runId = { project: scope.project, domain: scope.domain, name: runName };
    let selected = initialAction;
    let actions = [];
    let selectedDetails = null;
    let chosenAttempt = null; // picked by the user; otherwise the log follows the latest attempt
    let logShown = null; // "<action>#<attempt>" whose log is in the log pane
    let logController = null;

    const phase = h("span");
    const summary = h("dl", { className: "summary" });
    const runError = h("pre", { className: "error", hidden: true });
    const problem = h("p", { className: "error", hidden: true });
    const tree = h("ul", { className: "tree", id: "actions" });
    const detail = h("div", { id: "action-detail" });
    const logTitle = h("h3", {}, "Log");
    const log = h("pre", { className: "log", id: "log" });
    root.append(
      h(
        "div",
        { className: "title" },
        h("a", { href: "#/runs" }, "Runs"),
        h("span", { className: "muted" }, "/"),
        h("h1", {}, runName),
        phase,
      ),
      problem,
      summary,
      runError,
      h(
        "div",
        { className: "split" },
        h("section", { className: "panel" }, h("h2", {}, "Actions"), tree),
        h("section", { className: "panel" }, detail, logTitle, log),
      ),
    );

    async function refresh() {
      try {
        const [run, listed] = await Promise.all([
          call(RUN_SERVICE, "GetRunDetails", { runId }),
          listActions(),
        ]);
        if (view.closed) return false;
        actions = listed;
        showSummary(run.details?.action || {});
        if (!actions.some((action) => action.id.name === selected)) selected = "a0";
        await showSelected();
        if (view.closed) return false;
        problem.hidden = true;
        renderTree();
        const runDone = isTerminal(run.details?.action?.status?.phase);
        return !(runDone && actions.every((action) => isTerminal(action.status?.phase)));
      } catch (error) {
        if (view.closed) return false;
        problem.textContent =
          error instanceof RpcError && error.code === "not_found"
            ? `There is no run ${runName} in ${scope.project} / ${scope.domain}.`
            : `Cannot load the run: ${describeError(error)}`;
        problem.hidden = false;
        return !(error instanceof RpcError && error.code === "not_found");
      }
    }

    async function listActions() {
      const all = [];
      let token = "";
      do {
        const response = await call(RUN_SERVICE, "ListActions", { runId, request: { limit: ACTIONS_PAGE, token } });
        all.push(...(response.actions || []));
        token = response.token || "";
      } while (token && all.length < MAX_ACTIONS);
      return all;
    }

    function showSummary(details) {
      fill(phase, phaseBadge(details.status?.phase));
      const entry = (term, value) => [h("dt", {}, term), h("dd", {}, value)];
      fill(summary,
        ...entry("Task", taskLabel(details.metadata) || "—"),
        ...entry("Project", `${scope.project} / ${scope.domain}`),
        ...entry("Started", formatTime(details.status?.startTime)),
        ...entry("Duration", formatDuration(elapsedMs({ ...details.status }))),
        ...entry("Actions", String(actions.length)),
      );
      const message = errorText(details.errorInfo) || details.abortInfo?.reason || "";
      runError.textContent = message;
      runError.hidden = !message;
    }

    function renderTree() {
      const children = new Map();
      const names = new Set(actions.map((action) => action.id.name));
      for (const action of actions) {
        const parent = action.metadata?.parent && names.has(action.metadata.parent) ? action.metadata.parent : "";
        if (!children.has(parent)) children.set(parent, []);
        children.get(parent).push(action);
      }
      const branch = (parent) =>
        (children.get(parent) || []).map((action) => {
          const name = action.id.name;
          const status = action.status || {};
          const row = h(
            "button",
            { type: "button", className: name === selected ? "node selected" : "node", "data-action": name },
            h("span", { className: "label" }, shortLabel(action)),
            name !== shortLabel(action) ? h("span", { className: "muted id" }, name) : null,
            action.metadata?.group ? h("span", { className: "muted" }, `group ${action.metadata.group}`) : null,
            phaseBadge(status.phase),
            status.attempts > 1 ? h("span", { className: "muted" }, `${status.attempts} attempts`) : null,
            h("span", { className: "muted duration" }, formatDuration(elapsedMs({ ...status }))),
          );
          row.addEventListener("click", () => select(name));
          const nested = children.has(name) ? h("ul", {}, branch(name)) : null;
          return h("li", {}, row, nested);
        });
      fill(tree, ...branch(""));
    }

    async function select(name) {
      if (name === selected) return;
      selected = name;
      chosenAttempt = null;
      history.replaceState(null, "", `#/runs/${encodeURIComponent(runName)}/${encodeURIComponent(name)}`);
      renderTree();
      try {
        await showSelected();
      } catch (error) {
        fill(detail, h("p", { className: "error" }, `Cannot load the action: ${describeError(error)}`));
      }
    }

    async function showSelected() {
      const name = selected;
      const details = (
        await call(RUN_SERVICE, "GetActionDetails", { actionId: { run: runId, name } })
      ).details;
      if (view.closed || name !== selected) return;
      selectedDetails = details;
      const attempts = details.attempts || [];
      const latest = attempts.length ? attempts[attempts.length - 1].attempt : 0;
      const wanted = chosenAttempt || latest;
      renderDetail(details, wanted);
      if (wanted) followLog(name, wanted, details);
      else {
        stopLog();
        log.textContent = "This action has no attempts yet.";
      }
    }

    function renderDetail(details, shownAttempt) {
      const status = details.status || {};
      const entry = (term, value) => [h("dt", {}, term), h("dd", {}, value)];
      const attempts = details.attempts || [];
      const message = errorText(details.errorInfo) || details.abortInfo?.reason || "";
      fill(detail,
        h("h2", {}, shortLabel(details), " ", phaseBadge(status.phase)),
        h(
          "dl",
          { className: "summary" },
          entry("Action", details.id?.name || ""),
          entry("Task", taskLabel(details.metadata) || "—"),
          entry("Started", formatTime(status.startTime)),
          entry("Ended", formatTime(status.endTime)),
          entry("Duration", formatDuration(elapsedMs({ ...status }))),
          entry("Cache", status.cacheStatus ? status.cacheStatus.replace(/^CACHE_STATUS_/, "").toLowerCase() : "—"),
        ),
        message ? h("pre", { className: "error" }, message) : null,
        h("h3", {}, "Attempts"),
        attempts.length
          ? h(
              "table",
              { className: "list attempts" },
              h(
                "thead",
                {},
                h("tr", {}, ["#", "Phase", "Started", "Duration", "Error", ""].map((text) => h("th", {}, text))),
              ),
              h(
                "tbody",
                {},
                attempts.map((attempt) => {
                  const button = h(
                    "button",
                    { type: "button", className: attempt.attempt === shownAttempt ? "link current" : "link" },
                    attempt.attempt === shownAttempt ? "showing log" : "show log",
                  );
                  button.addEventListener("click", () => {
                    chosenAttempt = attempt.attempt;
                    renderDetail(selectedDetails, attempt.attempt);
                    followLog(details.id.name, attempt.attempt, selectedDetails, true);
                  });
                  return h(
                    "tr",
                    {},
                    h("td", { className: "number" }, String(attempt.attempt)),
                    h("td", {}, phaseBadge(attempt.phase)),
                    h("td", {}, formatTime(attempt.startTime)),
                    h("td", { className: "number" }, formatDuration(elapsedMs(attempt))),
                    h("td", { className: "error-cell" }, errorText(attempt.errorInfo)),
                    h("td", {}, button),
                  );
                }),
              ),
            )
          : h("p", { className: "muted" }, "No attempts yet."),
      );
    }

    function stopLog() {
      if (logController) logController.abort();
      logController = null;
      logShown = null;
    }

    /** Stream an attempt's log into the log pane (it ends by itself once the attempt has ended). */
    function followLog(name, attempt, details, force) {
      const key = `${name}#${attempt}`;
      if (logShown === key && !force) return;
      stopLog();
      logShown = key;
      logTitle.textContent = `Log of ${shortLabel(details)}, attempt ${attempt}`;
      log.textContent = "";
      const controller = new AbortController();
      logController = controller;
      view.controller.signal.addEventListener("abort", () => controller.abort());
      let lines = 0;
      const append = (response) => {
        const text = [];
        for (const group of response.logs || []) {
          for (const line of group.lines || []) text.push(line.message ?? "");
        }
        if (!text.length || lines >= MAX_LOG_LINES) return;
        lines += text.length;
        log.append(text.join("\n") + "\n");
        log.scrollTop = log.scrollHeight;
      };
      stream(DATA_PROXY_SERVICE, "TailLogs", { actionId: { run: runId, name }, attempt }, append, controller.signal)
        .then(() => {
          if (logController === controller && !lines) log.textContent = "(the log is empty)";
        })
        .catch((error) => {
          if (controller.signal.aborted || logController !== controller) return;
          // Not written yet (the attempt is starting): try again on the next refresh.
          if (error instanceof RpcError && error.code === "not_found") logShown = null;
          log.append(h("span", { className: "muted" }, `${lines ? "\n" : ""}${describeError(error)}`));
        });
    }

    view.poll(refresh);
  }

  // ---------------------------------------------------------------------------------------------
  // Deployed tasks

  function showTasks(root, view) {
    const { project, domain } = scope;
    const problem = h("p", { className: "error", hidden: true });
    const rows = h("tbody");
    root.append(
      h("div", { className: "title" }, h("h1", {}, "Tasks")),
      problem,
      h(
        "table",
        { className: "list", id: "tasks" },
        h(
          "thead",
          {},
          h("tr", {}, ["Task", "Environment", "Latest version", "Deployed", ""].map((text) => h("th", {}, text))),
        ),
        rows,
      ),
    );

    async function load() {
      let response;
      try {
        response = await call(TASK_SERVICE, "ListTasks", {
          projectId: { name: project, domain },
          request: { limit: 1000 },
        });
      } catch (error) {
        problem.textContent = `Cannot list tasks: ${describeError(error)}`;
        problem.hidden = false;
        return;
      }
      if (view.closed) return;
      const tasks = (response.tasks || []).sort((a, b) => a.taskId.name.localeCompare(b.taskId.name));
      fill(rows, ...tasks.flatMap(taskRows));
      if (!tasks.length) {
        rows.append(
          h("tr", {}, h("td", { colspan: 5, className: "empty" }, `No tasks deployed to ${project} / ${domain} yet.`)),
        );
      }
    }

    function taskRows(task) {
      const name = task.taskId.name;
      const versions = h("td", { colspan: 5 });
      const versionsRow = h("tr", { className: "versions", hidden: true }, versions);
      const toggle = h("button", { type: "button", className: "link" }, "versions");
      toggle.addEventListener("click", async () => {
        versionsRow.hidden = !versionsRow.hidden;
        if (versionsRow.hidden) return;
        versions.textContent = "loading…";
        try {
          const response = await call(TASK_SERVICE, "ListVersions", {
            taskName: { project, domain, name },
            request: { limit: 100 },
          });
          fill(versions,
            h(
              "ul",
              {},
              (response.versions || []).map((version) =>
                h(
                  "li",
                  {},
                  h("code", {}, version.version),
                  h("span", { className: "muted" }, ` deployed ${formatTime(version.deployedAt)}`),
                ),
              ),
            ),
          );
        } catch (error) {
          versions.textContent = `Cannot list versions: ${describeError(error)}`;
        }
      });
      return [
        h(
          "tr",
          { "data-task": name },
          h("td", {}, h("a", { href: `#/runs?task=${encodeURIComponent(name)}`, title: "runs of this task" }, name)),
          h("td", {}, task.metadata?.environmentName || "—"),
          h("td", {}, h("code", {}, task.taskId.version)),
          h("td", {}, formatTime(task.metadata?.deployedAt)),
          h("td", {}, toggle),
        ),
        versionsRow,
      ];
    }

    load();
  }

  // ---------------------------------------------------------------------------------------------
  // Start

  function start() {
    const link = RUN_LINK.exec(location.pathname);
    if (link) {
      const [, domain, project, run] = link.map((part) => (part === undefined ? part : decodeURIComponent(part)));
      setScope(project, domain);
      history.replaceState(null, "", run ? `/v2#/runs/${encodeURIComponent(run)}` : "/v2#/runs");
    }
    fillScopeSelectors();
    document.getElementById("scope-project").addEventListener("change", onScopeChange);
    document.getElementById("scope-domain").addEventListener("change", onScopeChange);
    document.getElementById("scope").addEventListener("submit", (event) => event.preventDefault());
    window.addEventListener("hashchange", route);
    document.getElementById("logout").hidden = accessToken() === null;
    document.getElementById("logout").addEventListener("click", (event) => {
      event.preventDefault();
      logOut();
    });
    loadProjects();
    route();
  }

  start();
})();
