// The runs list: filters (phase, task, date range, name search) kept in the address, an error
// column, and pages of RUNS_PAGE runs (ListRuns' token is an offset).
"use strict";

(() => {
  const C = window.FlyteConsole;
  const { h, fill } = C;
  const RUNS_PAGE = 50;
  const PHASES = ["QUEUED", "WAITING_FOR_RESOURCES", "INITIALIZING", "RUNNING", "SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"];
  const FILTER_KEYS = ["phase", "task", "from", "to", "q"];

  /** ListRequest filters for the form's values (see flyteidl2.common.Filter). */
  function filtersOf(params) {
    const filters = [];
    if (params.get("phase")) {
      filters.push({ field: "phase", function: "VALUE_IN", values: params.get("phase").split(",") });
    }
    if (params.get("q")) {
      filters.push({ field: "run_name", function: "CONTAINS_CASE_INSENSITIVE", values: [params.get("q")] });
    }
    const time = (key) => {
      const value = params.get(key);
      if (!value) return null;
      const parsed = new Date(value); // datetime-local: the browser's time zone
      return Number.isNaN(parsed.getTime()) ? null : parsed.toISOString();
    };
    if (time("from")) filters.push({ field: "created_at", function: "GREATER_THAN_OR_EQUAL", values: [time("from")] });
    if (time("to")) filters.push({ field: "created_at", function: "LESS_THAN_OR_EQUAL", values: [time("to")] });
    return filters;
  }

  function hashWith(params) {
    const query = new URLSearchParams();
    for (const [key, value] of params) if (value) query.set(key, value);
    const text = query.toString();
    return text ? `#/runs?${text}` : "#/runs";
  }

  function render(root, view, parts, params) {
    if (parts.length) {
      C.runPage(root, view, parts[0], parts[1] || "a0");
      return;
    }
    const { project, domain } = C.scope;
    const taskName = params.get("task") || "";
    const pageNumber = Math.max(1, Number.parseInt(params.get("page") || "1", 10) || 1);
    const updated = h("span", { className: "muted" });
    const problem = h("p", { className: "error", hidden: true });
    const rows = h("tbody");
    const pager = h("div", { className: "pager", id: "pager" });

    // The filter form: submitting it writes the filters into the address (so links keep them).
    const phase = h(
      "select",
      { name: "phase", id: "filter-phase" },
      h("option", { value: "" }, "any phase"),
      PHASES.map((name) => h("option", { value: name }, name.replace(/_/g, " ").toLowerCase())),
    );
    const task = h("input", { name: "task", id: "filter-task", placeholder: "task name", list: "task-names" });
    const from = h("input", { name: "from", id: "filter-from", type: "datetime-local", title: "started after" });
    const to = h("input", { name: "to", id: "filter-to", type: "datetime-local", title: "started before" });
    const search = h("input", { name: "q", id: "filter-q", type: "search", placeholder: "run name contains" });
    const taskNames = h("datalist", { id: "task-names" });
    phase.value = params.get("phase") || "";
    task.value = taskName;
    from.value = params.get("from") || "";
    to.value = params.get("to") || "";
    search.value = params.get("q") || "";
    const form = h(
      "form",
      { className: "filters", id: "run-filters" },
      phase,
      task,
      taskNames,
      h("label", {}, "from ", from),
      h("label", {}, "to ", to),
      search,
      h("button", { type: "submit" }, "Filter"),
      h("a", { href: "#/runs", className: "clear" }, "clear"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const values = new Map([
        ["phase", phase.value],
        ["task", task.value.trim()],
        ["from", from.value],
        ["to", to.value],
        ["q", search.value.trim()],
      ]);
      C.go(hashWith(values));
    });
    phase.addEventListener("change", () => form.requestSubmit());

    root.append(
      h(
        "div",
        { className: "title" },
        taskName ? h("h1", {}, "Runs of ", h("code", {}, taskName)) : h("h1", {}, "Runs"),
        updated,
      ),
      form,
      problem,
      h(
        "div",
        { className: "scroll" },
        h(
          "table",
          { className: "list", id: "runs" },
          h(
            "thead",
            {},
            h("tr", {}, ["Run", "Task", "Phase", "Started", "Duration", "Error"].map((text) => h("th", {}, text))),
          ),
          rows,
        ),
      ),
      pager,
    );

    C.call(C.services.TASK, "ListTasks", { projectId: { name: project, domain }, request: { limit: 1000 } })
      .then((response) => {
        fill(taskNames, (response.tasks || []).map((item) => h("option", { value: item.taskId.name })));
      })
      .catch(() => {});

    const filtered = FILTER_KEYS.some((key) => params.get(key));
    let errors = {};

    async function refresh() {
      const request = {
        request: { limit: RUNS_PAGE, token: pageNumber > 1 ? String((pageNumber - 1) * RUNS_PAGE) : "", filters: filtersOf(params) },
      };
      if (taskName) request.taskName = { project, domain, name: taskName };
      else request.projectId = { name: project, domain };
      let response;
      try {
        response = await C.call(C.services.RUN, "ListRuns", request);
      } catch (error) {
        if (view.closed) return false;
        problem.textContent = `Cannot list runs: ${C.describeError(error)}`;
        problem.hidden = false;
        return !(error instanceof C.RpcError && error.code === "invalid_argument");
      }
      if (view.closed) return false;
      problem.hidden = true;
      const runs = response.runs || [];
      fill(rows, ...runs.map(runRow));
      if (!runs.length) {
        const empty = filtered ? "No runs match these filters." : `No runs in ${project} / ${domain} yet.`;
        rows.append(h("tr", {}, h("td", { colspan: 6, className: "empty" }, empty)));
      }
      renderPager(Boolean(response.token));
      updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
      // Errors come from the console's service, for the runs that ended badly on this page.
      const ended = runs
        .filter((run) => ["FAILED", "ABORTED", "TIMED_OUT"].includes(C.phaseName(run.action.status?.phase)))
        .map((run) => run.action.id.run.name)
        .filter((name) => !(name in errors));
      if (ended.length) {
        try {
          const found = await C.call(C.services.CONSOLE, "GetRunErrors", { project, domain, runs: ended });
          errors = { ...errors, ...(found.errors || {}) };
          for (const name of ended) if (!(name in errors)) errors[name] = "";
          for (const row of rows.querySelectorAll("tr.run")) {
            const cell = row.querySelector(".error-cell");
            if (cell) cell.textContent = errors[row.dataset.run] || "";
          }
        } catch {
          // the column stays empty
        }
      }
      return true;
    }

    function renderPager(hasMore) {
      const link = (number, label) => {
        const next = new Map(FILTER_KEYS.map((key) => [key, params.get(key) || ""]));
        next.set("page", number > 1 ? String(number) : "");
        return h("a", { href: hashWith(next), className: "page-link", "data-page": number }, label);
      };
      fill(
        pager,
        pageNumber > 1 ? link(pageNumber - 1, "← newer") : null,
        h("span", { className: "muted" }, `page ${pageNumber}`),
        hasMore ? link(pageNumber + 1, "older →") : null,
      );
    }

    function runRow(run) {
      const action = run.action;
      const name = action.id.run.name;
      const trigger = action.metadata?.triggerName;
      const label = C.taskLabel(action.metadata);
      return h(
        "tr",
        { className: "run", "data-run": name },
        h("td", {}, h("a", { href: `#/runs/${encodeURIComponent(name)}` }, name)),
        h(
          "td",
          {},
          label ? h("a", { href: `#/tasks/${encodeURIComponent(label)}`, className: "plain" }, label) : "",
          trigger ? h("span", { className: "muted" }, ` (trigger ${trigger})`) : null,
        ),
        h("td", {}, C.phaseBadge(action.status?.phase)),
        h("td", {}, C.formatTime(action.status?.startTime)),
        h("td", { className: "number" }, C.formatDuration(C.elapsedMs({ ...action.status }))),
        h("td", { className: "error-cell" }, errors[name] || ""),
      );
    }

    view.poll(refresh);
  }

  C.page("runs", { nav: "Runs", render });
})();
