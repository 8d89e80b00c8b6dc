// One run: its actions as a tree (collapsible groups), a timeline (Gantt) of actions and attempts,
// a graph of parent/child calls; the selected action's attempts, inputs, outputs, report and log;
// abort and relaunch. Rows are virtualized: a run of 10,000 actions draws only what is on screen.
"use strict";

(() => {
  const C = window.FlyteConsole;
  const { h, fill } = C;
  const ACTIONS_PAGE = 1000;
  const MAX_ACTIONS = 50000;
  const MAX_LOG_LINES = 20000;
  const ROW_HEIGHT = 30;
  const GRAPH_NODES = 400;
  const LEVELS = ["debug", "info", "warning", "error"];

  // ---------------------------------------------------------------------------------------------
  // A virtual list: only the rows in view (and a margin) are in the DOM.

  function virtualList(className, id, renderRow) {
    const spacer = h("div", { className: "vspacer" });
    const container = h("div", { className: `vlist ${className}`, id }, spacer);
    let rows = [];
    let scheduled = false;
    const draw = () => {
      scheduled = false;
      const top = container.scrollTop;
      const height = container.clientHeight || 600;
      const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - 10);
      const last = Math.min(rows.length, Math.ceil((top + height) / ROW_HEIGHT) + 10);
      spacer.style.height = `${rows.length * ROW_HEIGHT}px`;
      const drawn = [];
      for (let index = first; index < last; index++) {
        const element = renderRow(rows[index], index);
        element.style.top = `${index * ROW_HEIGHT}px`;
        drawn.push(element);
      }
      spacer.replaceChildren(...drawn);
    };
    const redraw = () => {
      if (scheduled) return;
      scheduled = true;
      requestAnimationFrame(draw);
    };
    container.addEventListener("scroll", redraw, { passive: true });
    return {
      element: container,
      setRows(next) {
        rows = next;
        draw();
      },
      redraw: draw,
      scrollToIndex(index) {
        const top = index * ROW_HEIGHT;
        if (top < container.scrollTop || top > container.scrollTop + container.clientHeight - ROW_HEIGHT) {
          container.scrollTop = Math.max(0, top - container.clientHeight / 2);
        }
      },
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Values rendered by kind (what ConsoleService.GetActionIo returns)

  function renderValue(value) {
    switch (value.kind) {
      case "scalar":
        return h("code", { className: "scalar" }, value.value === null ? "None" : JSON.stringify(value.value));
      case "text":
        return h("span", { className: "muted" }, value.value);
      case "json":
        return h("pre", { className: "json" }, JSON.stringify(value.value, null, 2));
      case "table":
        return h(
          "table",
          { className: "kv" },
          h("tbody", {}, value.rows.map(([key, item]) => h("tr", {}, h("th", {}, key), h("td", {}, plain(item))))),
        );
      case "records":
      case "dataframe":
        return frame(value);
      case "file":
        return value.url
          ? h("a", { href: C.sameOrigin(value.url), download: value.filename, className: "download" }, `⬇ ${value.filename}`)
          : h("code", {}, value.uri);
      case "dir":
        return h(
          "div",
          { className: "dir" },
          h("code", {}, value.uri),
          value.entries
            ? h(
                "ul",
                {},
                value.entries.map((entry) =>
                  h(
                    "li",
                    {},
                    entry.url
                      ? h("a", { href: C.sameOrigin(entry.url), download: entry.name.split("/").pop() }, entry.name)
                      : entry.name,
                  ),
                ),
              )
            : null,
        );
      case "list":
        return h(
          "ol",
          { className: "items", start: 0 },
          value.items.map((item) => h("li", {}, renderValue(item))),
          value.total > value.items.length ? h("li", { className: "muted" }, `… ${value.total} in all`) : null,
        );
      case "map":
        return h(
          "table",
          { className: "kv" },
          h("tbody", {}, value.entries.map(([key, item]) => h("tr", {}, h("th", {}, key), h("td", {}, renderValue(item))))),
        );
      default:
        return h("span", { className: "muted" }, JSON.stringify(value));
    }
  }

  function plain(item) {
    if (item === null || item === undefined) return "None";
    return typeof item === "object" ? JSON.stringify(item) : String(item);
  }

  function frame(value) {
    const parts = [];
    if (value.kind === "dataframe") {
      parts.push(
        h(
          "div",
          { className: "muted" },
          "data frame ",
          value.url ? h("a", { href: C.sameOrigin(value.url), download: "data.parquet" }, "download") : h("code", {}, value.uri),
          value.total !== undefined ? ` · ${value.rows.length} of ${value.total} rows` : "",
          value.note ? ` · ${value.note}` : "",
        ),
      );
    }
    if (value.columns) {
      parts.push(
        h(
          "div",
          { className: "scroll" },
          h(
            "table",
            { className: "list preview" },
            h("thead", {}, h("tr", {}, value.columns.map((column) => h("th", {}, column)))),
            h("tbody", {}, value.rows.map((row) => h("tr", {}, row.map((cell) => h("td", {}, plain(cell)))))),
          ),
        ),
      );
    }
    return h("div", { className: "frame" }, parts);
  }

  function ioTable(id, items, empty) {
    if (!items.length) return h("p", { className: "muted", id }, empty);
    return h(
      "table",
      { className: "kv io", id },
      h("tbody", {}, items.map((item) => h("tr", { "data-name": item.name }, h("th", {}, item.name), h("td", {}, renderValue(item))))),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Log lines: a level from the text, a timestamp from the stream

  const LEVEL_PATTERN = /\b(CRITICAL|FATAL|ERROR|WARNING|WARN|INFO|DEBUG)\b/;

  function levelOf(message, previous) {
    const head = message.slice(0, 120);
    const match = LEVEL_PATTERN.exec(head);
    if (match) {
      const word = match[1];
      if (word === "CRITICAL" || word === "FATAL" || word === "ERROR") return "error";
      if (word.startsWith("WARN")) return "warning";
      return word.toLowerCase();
    }
    if (message.startsWith("Traceback")) return "error";
    if (previous === "error" && (/^\s/.test(message) || /^\w+(Error|Exception)\b/.test(message))) return "error";
    return "info";
  }

  // ---------------------------------------------------------------------------------------------
  // The run page

  function runPage(root, view, runName, initialAction) {
    const { project, domain } = C.scope;
    const runId = { project, domain, name: runName };
    let selected = initialAction;
    let actions = [];
    let byName = new Map();
    let runDetails = null;
    let attemptsOf = new Map(); // action → [[attempt, phase, start, end]]
    const collapsed = new Set();
    let mode = "tree";
    let rows = [];
    let timeRange = null; // {start, end} of the run's actions, computed once per refresh
    let selectedDetails = null;
    let chosenAttempt = null; // picked by the user; otherwise the log follows the latest attempt
    let ioShown = null;

    const phase = h("span", { id: "run-phase" });
    const actionsBar = h("div", { className: "actions-bar", id: "run-actions" });
    const summary = h("dl", { className: "summary" });
    const runError = h("pre", { className: "error", hidden: true });
    const problem = h("p", { className: "error", hidden: true });
    const notice = h("p", { className: "notice", hidden: true, id: "run-notice" });
    const list = virtualList("tree", "actions", (row, index) => (mode === "timeline" ? timelineRow(row, index) : treeRow(row)));
    const axis = h("div", { className: "axis", id: "timeline-axis", hidden: true });
    const graph = h("div", { className: "graph", id: "graph", hidden: true });
    const tabs = h(
      "div",
      { className: "tabs", role: "tablist" },
      ["tree", "timeline", "graph"].map((name) =>
        h(
          "button",
          { type: "button", id: `tab-${name}`, className: name === mode ? "tab active" : "tab", onclick: () => setMode(name) },
          name[0].toUpperCase() + name.slice(1),
        ),
      ),
    );
    const detail = h("div", { id: "action-detail" });
    const io = h("div", { id: "action-io" });
    const report = h("div", { id: "action-report" });
    const logPane = h("div", { id: "log-pane" });

    root.append(
      h(
        "div",
        { className: "title" },
        h("a", { href: "#/runs" }, "Runs"),
        h("span", { className: "muted" }, "/"),
        h("h1", {}, runName),
        phase,
        actionsBar,
      ),
      problem,
      notice,
      summary,
      runError,
      h(
        "div",
        { className: "split" },
        h("section", { className: "panel actions-panel" }, h("div", { className: "panel-head" }, h("h2", {}, "Actions"), tabs), axis, list.element, graph),
        h("section", { className: "panel" }, detail, io, report, logPane),
      ),
    );
    const log = logView(view, runId);
    logPane.append(log.element);

    // -------------------------------------------------------------------------- loading

    async function refresh() {
      try {
        const runPromise = C.call(C.services.RUN, "GetRunDetails", { runId });
        const first = await listActions(true);
        if (view.closed) return false;
        runDetails = (await runPromise).details;
        if (view.closed) return false;
        problem.hidden = true;
        setActions(first.actions);
        if (!byName.has(selected)) selected = "a0";
        showSummary(runDetails?.action || {});
        // The selected action's details load while the rest of a big run's actions arrive.
        const shown = showSelected();
        if (first.more) {
          setActions(await listActions(false).then((rest) => [...first.actions, ...rest.actions]));
          showSummary(runDetails?.action || {});
        }
        if (view.closed) return false;
        await Promise.all([shown, loadTimeline()]);
        if (view.closed) return false;
        const runDone = C.isTerminal(runDetails?.action?.status?.phase);
        return !(runDone && actions.every((action) => C.isTerminal(action.status?.phase)));
      } catch (error) {
        if (view.closed) return false;
        problem.textContent =
          error instanceof C.RpcError && error.code === "not_found"
            ? `There is no run ${runName} in ${project} / ${domain}.`
            : `Cannot load the run: ${C.describeError(error)}`;
        problem.hidden = false;
        return !(error instanceof C.RpcError && error.code === "not_found");
      }
    }

    /** The first page of actions (``firstOnly``) or all the pages after it. */
    async function listActions(firstOnly) {
      const all = [];
      let token = firstOnly ? "" : String(ACTIONS_PAGE);
      do {
        const response = await C.call(C.services.RUN, "ListActions", { runId, request: { limit: ACTIONS_PAGE, token } });
        all.push(...(response.actions || []));
        token = response.token || "";
        if (firstOnly) return { actions: all, more: Boolean(token) };
      } while (token && all.length < MAX_ACTIONS && !view.closed);
      return { actions: all, more: false };
    }

    async function loadTimeline() {
      if (mode !== "timeline" && attemptsOf.size) return;
      try {
        const response = await C.call(C.services.CONSOLE, "GetTimeline", { project, domain, run: runName });
        const next = new Map();
        for (const [name, attempt, attemptPhase, start, end] of response.attempts || []) {
          if (!next.has(name)) next.set(name, []);
          next.get(name).push([attempt, attemptPhase, start, end]);
        }
        attemptsOf = next;
        if (mode === "timeline") list.redraw();
      } catch {
        // the timeline shows actions only
      }
    }

    function setActions(next) {
      actions = next;
      byName = new Map(actions.map((action) => [action.id.name, action]));
      timeRange = span();
      rows = flatten();
      if (mode === "graph") drawGraph();
      else list.setRows(rows);
      if (mode === "timeline") drawAxis();
    }

    // -------------------------------------------------------------------------- header

    function showSummary(details) {
      fill(phase, C.phaseBadge(details.status?.phase));
      const entry = (term, value) => [h("dt", {}, term), h("dd", {}, value)];
      const label = C.taskLabel(details.metadata);
      fill(
        summary,
        ...entry("Task", label ? h("a", { href: `#/tasks/${encodeURIComponent(label)}` }, label) : "—"),
        ...entry("Project", `${project} / ${domain}`),
        ...entry("Started", C.formatTime(details.status?.startTime)),
        ...entry("Duration", C.formatDuration(C.elapsedMs({ ...details.status }))),
        ...entry("Actions", String(actions.length || "…")),
        ...notificationsEntry(entry),
      );
      const message = C.errorText(details.errorInfo) || details.abortInfo?.reason || "";
      runError.textContent = message;
      runError.hidden = !message;
      renderRunActions(details);
    }

    // flyte.notify's delivery log: the server sends it as run annotations "flyte.notify/<rule>".
    function notificationsEntry(entry) {
      const values = runDetails?.runSpec?.annotations?.values || {};
      const lines = Object.keys(values)
        .filter((key) => key.startsWith("flyte.notify/"))
        .sort((a, b) => Number(a.slice(13)) - Number(b.slice(13)))
        .map((key) => h("li", {}, values[key]));
      return lines.length ? entry("Notifications", h("ul", { id: "run-notifications" }, ...lines)) : [];
    }

    let runActionsState = "";

    async function renderRunActions(details) {
      await C.identityReady;
      if (view.closed) return;
      const terminal = C.isTerminal(details.status?.phase);
      const state = `${terminal}:${C.can("write")}`;
      if (state === runActionsState) return;
      runActionsState = state;
      if (!C.can("write")) {
        fill(actionsBar);
        return;
      }
      const task = details.metadata?.task?.id;
      fill(
        actionsBar,
        terminal
          ? null
          : C.confirmButton("Abort run", "Confirm abort", { id: "abort-run", className: "danger" }, async () => {
              try {
                await C.call(C.services.RUN, "AbortRun", { runId, reason: "aborted from the console" });
                say(`Abort requested for ${runName}.`);
              } catch (error) {
                say(`Cannot abort: ${C.describeError(error)}`, true);
              }
            }),
        h("button", { type: "button", id: "relaunch", onclick: relaunch, title: "run it again with the same inputs" }, "Relaunch"),
        task?.version
          ? h(
              "a",
              {
                className: "button",
                id: "relaunch-edit",
                href: `#/tasks/${encodeURIComponent(task.name)}?version=${encodeURIComponent(task.version)}&run=${encodeURIComponent(runName)}`,
                title: "open the launch form with this run's inputs",
              },
              "Edit & relaunch",
            )
          : null,
      );
    }

    function say(text, bad) {
      notice.textContent = text;
      notice.classList.toggle("error", Boolean(bad));
      notice.hidden = false;
    }

    /** A new run of the same task spec with the same inputs and run settings. */
    async function relaunch() {
      try {
        const [root, data] = await Promise.all([
          C.call(C.services.RUN, "GetActionDetails", { actionId: { run: runId, name: "a0" } }),
          C.call(C.services.RUN, "GetActionData", { actionId: { run: runId, name: "a0" } }),
        ]);
        const request = { projectId: { name: project, domain }, taskSpec: root.details.task, inputs: data.inputs || {} };
        if (runDetails?.runSpec) request.runSpec = runDetails.runSpec;
        const created = await C.call(C.services.RUN, "CreateRun", request);
        C.go(`#/runs/${encodeURIComponent(created.run.action.id.run.name)}`);
      } catch (error) {
        say(`Cannot relaunch: ${C.describeError(error)}`, true);
      }
    }

    // -------------------------------------------------------------------------- rows

    /** Visible rows: actions depth first; children in a group sit under a collapsible group row. */
    function flatten() {
      const children = new Map();
      for (const action of actions) {
        const parentName = action.metadata?.parent && byName.has(action.metadata.parent) ? action.metadata.parent : "";
        if (!children.has(parentName)) children.set(parentName, []);
        children.get(parentName).push(action);
      }
      const out = [];
      const walk = (parentName, depth) => {
        const kids = children.get(parentName) || [];
        const groups = new Map();
        for (const action of kids) {
          const group = action.metadata?.group || "";
          if (!groups.has(group)) groups.set(group, []);
          groups.get(group).push(action);
        }
        for (const [group, members] of groups) {
          let memberDepth = depth;
          if (group) {
            const key = `group:${parentName}:${group}`;
            out.push({ kind: "group", key, name: group, depth, members });
            if (collapsed.has(key)) continue;
            memberDepth = depth + 1;
          }
          for (const action of members) {
            const name = action.id.name;
            const hasChildren = children.has(name);
            out.push({ kind: "action", key: name, action, depth: memberDepth, hasChildren });
            if (hasChildren && !collapsed.has(name)) walk(name, memberDepth + 1);
          }
        }
      };
      walk("", 0);
      return out;
    }

    function toggle(key) {
      if (collapsed.has(key)) collapsed.delete(key);
      else collapsed.add(key);
      rows = flatten();
      list.setRows(rows);
    }

    function twisty(row) {
      if (row.kind === "action" && !row.hasChildren) return h("span", { className: "twisty" });
      const open = !collapsed.has(row.key);
      return h(
        "span",
        {
          className: "twisty open-" + open,
          role: "button",
          "data-toggle": row.key,
          title: open ? "collapse" : "expand",
          onclick: (event) => {
            event.stopPropagation();
            toggle(row.key);
          },
        },
        open ? "▾" : "▸",
      );
    }

    function groupSummary(members) {
      const counts = new Map();
      for (const action of members) {
        const name = C.phaseName(action.status?.phase);
        counts.set(name, (counts.get(name) || 0) + 1);
      }
      return [...counts].map(([name, count]) => h("span", { className: `phase ${C.phaseClass(name)}` }, `${count} ${name.toLowerCase()}`));
    }

    function treeRow(row) {
      const indent = { style: `padding-left:${8 + row.depth * 18}px` };
      if (row.kind === "group") {
        return h(
          "div",
          { className: "vrow group", "data-group": row.name, ...indent, onclick: () => toggle(row.key) },
          twisty(row),
          h("span", { className: "label" }, `group ${row.name}`),
          h("span", { className: "muted" }, `${row.members.length} actions`),
          groupSummary(row.members),
        );
      }
      const action = row.action;
      const name = action.id.name;
      const status = action.status || {};
      const label = C.shortLabel(action);
      return h(
        "div",
        {
          className: name === selected ? "vrow node selected" : "vrow node",
          "data-action": name,
          "data-phase": C.phaseName(status.phase),
          ...indent,
          onclick: () => select(name),
        },
        twisty(row),
        h("span", { className: "label" }, label),
        name !== label ? h("span", { className: "muted id" }, name) : null,
        C.phaseBadge(status.phase),
        status.attempts > 1 ? h("span", { className: "muted" }, `${status.attempts} attempts`) : null,
        h("span", { className: "muted duration" }, C.formatDuration(C.elapsedMs({ ...status }))),
      );
    }

    // -------------------------------------------------------------------------- timeline

    function span() {
      let start = Infinity;
      let end = 0;
      for (const action of actions) {
        const status = action.status || {};
        if (status.startTime) start = Math.min(start, Date.parse(status.startTime));
        end = Math.max(end, status.endTime ? Date.parse(status.endTime) : status.startTime ? Date.now() : 0);
      }
      if (!Number.isFinite(start)) return null;
      return { start, end: Math.max(end, start + 1) };
    }

    function drawAxis() {
      const range = timeRange;
      axis.hidden = mode !== "timeline";
      if (!range) {
        fill(axis, h("span", { className: "muted" }, "nothing has started yet"));
        return;
      }
      const ticks = [0, 0.25, 0.5, 0.75, 1].map((fraction) =>
        h("span", { className: "tick", style: `left:${fraction * 100}%` }, C.formatDuration(fraction * (range.end - range.start))),
      );
      fill(axis, h("div", { className: "axis-label" }), h("div", { className: "axis-track" }, ticks));
    }

    function timelineRow(row) {
      const range = timeRange;
      const indent = `padding-left:${4 + row.depth * 12}px`;
      if (row.kind === "group") {
        return h(
          "div",
          { className: "vrow group timeline-row", "data-group": row.name, onclick: () => toggle(row.key) },
          h("div", { className: "tl-label", style: indent }, twisty(row), `group ${row.name}`),
          h("div", { className: "tl-track" }),
        );
      }
      const action = row.action;
      const name = action.id.name;
      const status = action.status || {};
      const bars = [];
      const place = (start, end) => {
        const left = ((start - range.start) / (range.end - range.start)) * 100;
        const width = Math.max(0.4, ((end - start) / (range.end - range.start)) * 100);
        return `left:${left.toFixed(3)}%;width:${Math.min(width, 100 - left).toFixed(3)}%`;
      };
      if (range && status.startTime) {
        const attempts = attemptsOf.get(name);
        if (attempts && attempts.length) {
          for (const [attempt, attemptPhase, start, end] of attempts) {
            bars.push(
              h(
                "div",
                {
                  className: `bar attempt ${C.phaseClass(attemptPhase)}`,
                  style: place(start, end || Date.now()),
                  title: `${name} attempt ${attempt}: ${attemptPhase} ${C.formatDuration((end || Date.now()) - start)}`,
                  "data-attempt": attempt,
                },
                attempts.length > 1 ? `#${attempt}` : "",
              ),
            );
          }
        } else {
          const start = Date.parse(status.startTime);
          const end = status.endTime ? Date.parse(status.endTime) : Date.now();
          bars.push(
            h("div", {
              className: `bar ${C.phaseClass(status.phase)}`,
              style: place(start, end),
              title: `${name}: ${C.phaseName(status.phase)} ${C.formatDuration(end - start)}`,
            }),
          );
        }
      }
      return h(
        "div",
        {
          className: name === selected ? "vrow timeline-row selected" : "vrow timeline-row",
          "data-action": name,
          "data-phase": C.phaseName(status.phase),
          onclick: () => select(name),
        },
        h("div", { className: "tl-label", style: indent }, twisty(row), C.shortLabel(action), h("span", { className: "muted id" }, ` ${name}`)),
        h("div", { className: "tl-track" }, bars),
      );
    }

    // -------------------------------------------------------------------------- graph

    /** Calls aggregated by task along the call path: ``fan_out → square ×10000`` stays small. */
    function drawGraph() {
      const pathOf = new Map();
      const nodes = new Map();
      const order = [];
      const labelPath = (action) => {
        const name = action.id.name;
        if (pathOf.has(name)) return pathOf.get(name);
        const parent = action.metadata?.parent && byName.get(action.metadata.parent);
        const path = parent && parent !== action ? `${labelPath(parent)}/${C.shortLabel(action)}` : C.shortLabel(action);
        pathOf.set(name, path);
        return path;
      };
      for (const action of actions) {
        const path = labelPath(action);
        if (!nodes.has(path)) {
          if (nodes.size >= GRAPH_NODES) continue;
          const parentPath = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : null;
          nodes.set(path, { path, label: C.shortLabel(action), parentPath, count: 0, phases: new Map(), first: action.id.name, depth: path.split("/").length - 1 });
          order.push(path);
        }
        const node = nodes.get(path);
        node.count += 1;
        const name = C.phaseName(action.status?.phase);
        node.phases.set(name, (node.phases.get(name) || 0) + 1);
      }
      // Rows: each node below its parent's subtree (depth-first), columns by depth.
      const kids = new Map();
      for (const path of order) {
        const parentPath = nodes.get(path).parentPath;
        if (!kids.has(parentPath)) kids.set(parentPath, []);
        kids.get(parentPath).push(path);
      }
      let rowIndex = 0;
      const place = (parentPath) => {
        for (const path of kids.get(parentPath) || []) {
          nodes.get(path).row = rowIndex++;
          place(path);
        }
      };
      place(null);
      const width = 190;
      const height = 54;
      const maxDepth = Math.max(0, ...[...nodes.values()].map((node) => node.depth));
      const svg = h("svg:svg", {
        className: "callgraph",
        width: (maxDepth + 1) * (width + 50) + 20,
        height: rowIndex * height + 20,
        role: "img",
        "aria-label": "call graph",
      });
      const worst = (phases) =>
        ["FAILED", "TIMED_OUT", "ABORTED", "RUNNING", "INITIALIZING", "QUEUED", "SUCCEEDED"].find((name) => phases.has(name)) ||
        [...phases.keys()][0];
      for (const node of nodes.values()) {
        const x = 10 + node.depth * (width + 50);
        const y = 10 + node.row * height;
        if (node.parentPath && nodes.has(node.parentPath)) {
          const parent = nodes.get(node.parentPath);
          const px = 10 + parent.depth * (width + 50) + width;
          const py = 10 + parent.row * height + 20;
          svg.append(h("svg:path", { className: "edge", d: `M${px},${py} C${px + 25},${py} ${x - 25},${y + 20} ${x},${y + 20}` }));
        }
        const counts = [...node.phases].map(([name, count]) => `${count} ${name.toLowerCase()}`).join(", ");
        const group = h(
          "svg:g",
          { className: `gnode ${C.phaseClass(worst(node.phases))}`, "data-path": node.path, transform: `translate(${x},${y})` },
          h("svg:title", {}, `${node.path}: ${counts}`),
          h("svg:rect", { width, height: 40, rx: 6 }),
          h("svg:text", { x: 10, y: 17, className: "glabel" }, node.count > 1 ? `${node.label} ×${node.count}` : node.label),
          h("svg:text", { x: 10, y: 32, className: "gsub" }, counts.length > 30 ? `${counts.slice(0, 29)}…` : counts),
        );
        group.addEventListener("click", () => select(node.first));
        svg.append(group);
      }
      fill(graph, nodes.size >= GRAPH_NODES ? h("p", { className: "muted" }, `the first ${GRAPH_NODES} call paths`) : null, svg);
    }

    function setMode(next) {
      mode = next;
      for (const name of ["tree", "timeline", "graph"]) {
        document.getElementById(`tab-${name}`)?.classList.toggle("active", name === mode);
      }
      list.element.hidden = mode === "graph";
      graph.hidden = mode !== "graph";
      list.element.classList.toggle("timeline", mode === "timeline");
      list.element.id = mode === "timeline" ? "timeline" : "actions";
      axis.hidden = mode !== "timeline";
      if (mode === "graph") drawGraph();
      else {
        if (mode === "timeline") {
          drawAxis();
          loadTimeline();
        }
        list.setRows(rows);
      }
    }

    // -------------------------------------------------------------------------- the selected action

    async function select(name) {
      if (name === selected) return;
      selected = name;
      chosenAttempt = null;
      ioShown = null;
      history.replaceState(null, "", `#/runs/${encodeURIComponent(runName)}/${encodeURIComponent(name)}`);
      list.redraw();
      try {
        await showSelected();
      } catch (error) {
        fill(detail, h("p", { className: "error" }, `Cannot load the action: ${C.describeError(error)}`));
      }
    }

    async function showSelected() {
      const name = selected;
      const details = (await C.call(C.services.RUN, "GetActionDetails", { actionId: { run: runId, name } })).details;
      if (view.closed || name !== selected) return;
      selectedDetails = details;
      const attempts = details.attempts || [];
      const latest = attempts.length ? attempts[attempts.length - 1].attempt : 0;
      const wanted = chosenAttempt || latest;
      await C.identityReady;
      if (view.closed || name !== selected) return;
      renderDetail(details, wanted);
      showIo(details);
      if (wanted) log.follow(name, wanted, C.shortLabel(details));
      else log.none("This action has no attempts yet.");
    }

    async function showIo(details) {
      const name = details.id.name;
      const key = `${name}:${C.phaseName(details.status?.phase)}`;
      if (ioShown === key) return;
      ioShown = key;
      try {
        const data = await C.call(C.services.CONSOLE, "GetActionIo", { project, domain, run: runName, action: name });
        if (view.closed || name !== selected) return;
        fill(
          io,
          h("h3", {}, "Inputs"),
          ioTable("io-inputs", data.inputs || [], "No inputs."),
          h("h3", {}, "Outputs"),
          ioTable(
            "io-outputs",
            data.outputs || [],
            C.isTerminal(details.status?.phase) ? "No outputs." : "No outputs yet.",
          ),
        );
      } catch (error) {
        if (name === selected) fill(io, h("p", { className: "error" }, `Cannot load inputs and outputs: ${C.describeError(error)}`));
      }
    }

    function renderDetail(details, shownAttempt) {
      const status = details.status || {};
      const entry = (term, value) => [h("dt", {}, term), h("dd", {}, value)];
      const attempts = details.attempts || [];
      const message = C.errorText(details.errorInfo) || details.abortInfo?.reason || "";
      const name = details.id?.name || "";
      const abort =
        C.can("write") && !C.isTerminal(status.phase) && name !== "a0"
          ? C.confirmButton("Abort action", "Confirm abort", { id: "abort-action", className: "danger small" }, async () => {
              try {
                await C.call(C.services.RUN, "AbortAction", { actionId: { run: runId, name }, reason: "aborted from the console" });
                say(`Abort requested for ${name}.`);
              } catch (error) {
                say(`Cannot abort: ${C.describeError(error)}`, true);
              }
            })
          : null;
      fill(
        detail,
        h("h2", {}, C.shortLabel(details), " ", C.phaseBadge(status.phase), " ", abort),
        h(
          "dl",
          { className: "summary" },
          entry("Action", name),
          entry("Task", C.taskLabel(details.metadata) || "—"),
          entry("Started", C.formatTime(status.startTime)),
          entry("Ended", C.formatTime(status.endTime)),
          entry("Duration", C.formatDuration(C.elapsedMs({ ...status }))),
          entry("Cache", status.cacheStatus ? status.cacheStatus.replace(/^CACHE_STATUS_/, "").toLowerCase() : "—"),
        ),
        message ? h("pre", { className: "error" }, message) : null,
        conditionPanel(details),
        h("h3", {}, "Attempts"),
        attempts.length
          ? h(
              "div",
              { className: "scroll" },
              h(
                "table",
                { className: "list attempts" },
                h("thead", {}, h("tr", {}, ["#", "Phase", "Started", "Duration", "Error", "", ""].map((text) => h("th", {}, text)))),
                h(
                  "tbody",
                  {},
                  attempts.map((attempt) => {
                    const showLog = h(
                      "button",
                      { type: "button", className: attempt.attempt === shownAttempt ? "link current" : "link" },
                      attempt.attempt === shownAttempt ? "showing log" : "show log",
                    );
                    showLog.addEventListener("click", () => {
                      chosenAttempt = attempt.attempt;
                      renderDetail(selectedDetails, attempt.attempt);
                      log.follow(name, attempt.attempt, C.shortLabel(details), true);
                    });
                    const reportButton = h(
                      "button",
                      { type: "button", className: "link report-link", "data-attempt": attempt.attempt },
                      "report",
                    );
                    reportButton.addEventListener("click", () => openReport(name, attempt.attempt));
                    return h(
                      "tr",
                      {},
                      h("td", { className: "number" }, String(attempt.attempt)),
                      h("td", {}, C.phaseBadge(attempt.phase)),
                      h("td", {}, C.formatTime(attempt.startTime)),
                      h("td", { className: "number" }, C.formatDuration(C.elapsedMs(attempt))),
                      h("td", { className: "error-cell" }, C.errorText(attempt.errorInfo)),
                      h("td", {}, showLog),
                      h("td", {}, reportButton),
                    );
                  }),
                ),
              ),
            )
          : h("p", { className: "muted" }, "No attempts yet."),
      );
    }

    /**
     * A condition (flyte.new_condition) waiting for a person: its prompt and a typed answer. A bool
     * gets Approve/Reject; an int, float or text gets a field. Answers go through SignalEvent (the
     * server checks the type again), a rejection through AbortAction (the task sees
     * ConditionFailedError). The prompt is shown as text, never as HTML.
     */
    function conditionPanel(details) {
      const condition = details.condition;
      if (!condition) return null;
      const name = details.id?.name || "";
      const phase = C.phaseName(details.status?.phase);
      const kind = { BOOLEAN: "bool", INTEGER: "int", FLOAT: "float" }[condition.type?.simple] || "str";
      const heading = h("h3", {}, "Condition ", h("code", {}, condition.name || name));
      const prompt = h("pre", { className: "condition-prompt", id: "condition-prompt" }, condition.prompt || "");
      if (C.isTerminal(details.status?.phase) || phase === "ABORTED") {
        const value = details.signalInfo?.output?.scalar?.primitive;
        const shown = value ? Object.values(value)[0] : null;
        return h(
          "div",
          { className: "condition", id: "condition" },
          heading,
          prompt,
          h("p", { id: "condition-result" }, shown === null ? `Ended ${phase}.` : `Answered: ${String(shown)}`),
        );
      }
      if (!C.can("write")) {
        return h("div", { className: "condition", id: "condition" }, heading, prompt, h("p", { className: "muted" }, "Waiting for an answer."));
      }
      const note = h("p", { className: "condition-note", id: "condition-note" });
      const signal = async (payload) => {
        try {
          await C.call(C.services.RUN, "SignalEvent", { actionId: { run: runId, name }, payload });
          say(`Answered ${condition.name || name}.`);
          await showSelected();
        } catch (error) {
          note.textContent = `Cannot answer: ${C.describeError(error)}`;
          note.className = "condition-note error";
        }
      };
      const reason = h("input", { type: "text", id: "condition-reason", placeholder: "reason (optional)", maxlength: 500 });
      const reject = C.confirmButton("Reject", "Confirm reject", { id: "condition-reject", className: "danger small" }, async () => {
        try {
          await C.call(C.services.RUN, "AbortAction", {
            actionId: { run: runId, name },
            reason: reason.value.trim() || "rejected from the console",
          });
          say(`Rejected ${condition.name || name}.`);
          await showSelected();
        } catch (error) {
          note.textContent = `Cannot reject: ${C.describeError(error)}`;
          note.className = "condition-note error";
        }
      });
      let answer;
      if (kind === "bool") {
        const approve = h("button", { type: "button", id: "condition-approve", className: "primary small" }, "Approve");
        approve.addEventListener("click", () => signal({ boolValue: true }));
        answer = [approve];
      } else {
        const field = h("input", {
          type: kind === "str" ? "text" : "number",
          step: kind === "float" ? "any" : kind === "int" ? "1" : undefined,
          id: "condition-value",
          "aria-label": `answer (${kind})`,
        });
        const submit = h("button", { type: "button", id: "condition-submit", className: "primary small" }, "Answer");
        submit.addEventListener("click", () => {
          const text = field.value.trim();
          if (kind === "int" && !/^[-+]?\d+$/.test(text)) {
            note.textContent = `An integer is expected, not "${text}".`;
            note.className = "condition-note error";
            return;
          }
          if (kind === "float" && (text === "" || !Number.isFinite(Number(text)))) {
            note.textContent = `A number is expected, not "${text}".`;
            note.className = "condition-note error";
            return;
          }
          signal(kind === "int" ? { intValue: text } : kind === "float" ? { floatValue: Number(text) } : { stringValue: field.value });
        });
        answer = [field, " ", submit];
      }
      return h(
        "div",
        { className: "condition", id: "condition" },
        heading,
        prompt,
        h("p", { className: "muted" }, `Expects a ${kind}.`),
        h("div", { className: "condition-answer" }, ...answer, " ", reason, " ", reject),
        note,
      );
    }

    /** Embed the attempt's flyte.report page (served sandboxed by /v2/report/ from its signed link). */
    async function openReport(name, attempt) {
      fill(report, h("p", { className: "muted" }, "loading the report…"));
      try {
        const response = await C.call(C.services.DATA_PROXY, "CreateDownloadLink", {
          artifactType: "ARTIFACT_TYPE_REPORT",
          actionAttemptId: { actionId: { run: runId, name }, attempt },
        });
        const url = C.sameOrigin(response.preSignedUrls.signedUrl[0]);
        const embedded = url.replace(/^\/__blob\//, "/v2/report/");
        fill(
          report,
          h(
            "div",
            { className: "panel-head" },
            h("h3", {}, `Report of ${name}, attempt ${attempt}`),
            h("a", { href: embedded, target: "_blank", rel: "noopener" }, "open in a new tab"),
            h("button", { type: "button", className: "link", onclick: () => fill(report) }, "close"),
          ),
          h("iframe", { id: "report", src: embedded, sandbox: "allow-scripts allow-popups", title: "report" }),
        );
      } catch (error) {
        const text =
          error instanceof C.RpcError && error.code === "not_found"
            ? `Attempt ${attempt} of ${name} wrote no report (flyte.report).`
            : `Cannot open the report: ${C.describeError(error)}`;
        fill(report, h("p", { className: "muted", id: "no-report" }, text));
      }
    }

    view.poll(refresh);
  }

  // ---------------------------------------------------------------------------------------------
  // The log pane: timestamps, levels, search, follow, download

  function logView(view, runId) {
    let lines = []; // {time, message, level, system}
    let controller = null;
    let shown = null;
    let title = "";
    const heading = h("h3", {}, "Log");
    const search = h("input", { type: "search", id: "log-search", placeholder: "search the log" });
    const level = h(
      "select",
      { id: "log-level", title: "lowest level shown" },
      LEVELS.map((name) => h("option", { value: name }, name === "debug" ? "all levels" : `${name}+`)),
    );
    const times = h("input", { type: "checkbox", id: "log-times", checked: true });
    const followBox = h("input", { type: "checkbox", id: "log-follow", checked: true });
    const download = h("button", { type: "button", id: "log-download" }, "Download");
    const count = h("span", { className: "muted", id: "log-count" });
    const body = h("div", { className: "log", id: "log", tabindex: 0 });
    const element = h(
      "div",
      { className: "log-view" },
      h("div", { className: "panel-head" }, heading, count),
      h(
        "div",
        { className: "log-tools" },
        search,
        level,
        h("label", {}, times, " timestamps"),
        h("label", {}, followBox, " follow"),
        download,
      ),
      body,
    );
    level.value = "debug";
    const visible = (line) => {
      if (LEVELS.indexOf(line.level) < LEVELS.indexOf(level.value)) return false;
      const query = search.value.trim().toLowerCase();
      return !query || line.message.toLowerCase().includes(query);
    };
    const lineElement = (line) => {
      const query = search.value.trim();
      let message = line.message;
      let text = [message];
      if (query) {
        const at = message.toLowerCase().indexOf(query.toLowerCase());
        if (at >= 0) {
          text = [message.slice(0, at), h("mark", {}, message.slice(at, at + query.length)), message.slice(at + query.length)];
        }
      }
      return h(
        "div",
        { className: `logline lvl-${line.level}${line.system ? " system" : ""}` },
        times.checked ? h("span", { className: "ts" }, line.time) : null,
        h("span", { className: "lvl" }, line.level.toUpperCase()),
        h("span", { className: "msg" }, text),
      );
    };
    const rerender = () => {
      const shownLines = lines.filter(visible);
      fill(body, shownLines.map(lineElement));
      count.textContent = shownLines.length === lines.length ? `${lines.length} lines` : `${shownLines.length} of ${lines.length} lines`;
      if (followBox.checked) body.scrollTop = body.scrollHeight;
    };
    search.addEventListener("input", rerender);
    level.addEventListener("change", rerender);
    times.addEventListener("change", rerender);
    followBox.addEventListener("change", () => {
      if (followBox.checked) body.scrollTop = body.scrollHeight;
    });
    // Scrolling up stops following; scrolling back to the end starts again.
    body.addEventListener("scroll", () => {
      const atEnd = body.scrollHeight - body.scrollTop - body.clientHeight < 4;
      if (followBox.checked !== atEnd && lines.length) followBox.checked = atEnd;
    });
    download.addEventListener("click", () => {
      const text = lines.map((line) => `${line.time} ${line.level.toUpperCase()} ${line.message}`).join("\n") + "\n";
      const link = h("a", { href: URL.createObjectURL(new Blob([text], { type: "text/plain" })), download: `${title || "log"}.log` });
      document.body.append(link);
      link.click();
      setTimeout(() => {
        URL.revokeObjectURL(link.href);
        link.remove();
      }, 1000);
    });

    const stop = () => {
      if (controller) controller.abort();
      controller = null;
      shown = null;
    };
    view.onClose(stop);

    return {
      element,
      none(message) {
        stop();
        lines = [];
        heading.textContent = "Log";
        fill(body, h("span", { className: "muted" }, message));
        count.textContent = "";
      },
      /** Stream an attempt's log (it ends by itself once the attempt has ended). */
      follow(name, attempt, label, force) {
        const key = `${name}#${attempt}`;
        if (shown === key && !force) return;
        stop();
        shown = key;
        title = `${runId.name}-${name}-${attempt}`;
        heading.textContent = `Log of ${label}, attempt ${attempt}`;
        lines = [];
        fill(body);
        count.textContent = "";
        const mine = new AbortController();
        controller = mine;
        let previous = "info";
        const append = (response) => {
          const added = [];
          for (const group of response.logs || []) {
            for (const line of group.lines || []) {
              if (lines.length >= MAX_LOG_LINES) break;
              const message = line.message ?? "";
              previous = levelOf(message, previous);
              const entry = {
                time: line.timestamp ? new Date(line.timestamp).toISOString().replace("T", " ").replace("Z", "") : "",
                message,
                level: previous,
                system: line.originator === "SYSTEM",
              };
              lines.push(entry);
              added.push(entry);
            }
          }
          if (!added.length) return;
          body.append(...added.filter(visible).map(lineElement));
          count.textContent = `${lines.length} lines`;
          if (followBox.checked) body.scrollTop = body.scrollHeight;
        };
        C.stream(C.services.DATA_PROXY, "TailLogs", { actionId: { run: runId, name }, attempt }, append, mine.signal)
          .then(() => {
            if (controller === mine && !lines.length) fill(body, h("span", { className: "muted" }, "(the attempt printed nothing)"));
          })
          .catch((error) => {
            if (mine.signal.aborted || controller !== mine) return;
            // Not written yet (the attempt is starting): try again on the next refresh.
            if (error instanceof C.RpcError && error.code === "not_found") shown = null;
            body.append(h("div", { className: "muted" }, C.describeError(error)));
          });
      },
    };
  }

  C.runPage = runPage;
})();
