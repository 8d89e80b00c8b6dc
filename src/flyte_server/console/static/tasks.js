// Deployed tasks: the list; one task's signature, versions, runs and triggers; and the launch form
// generated from its interface (validated on the server as the CLI validates its options).
"use strict";

(() => {
  const C = window.FlyteConsole;
  const { h, fill } = C;

  function render(root, view, parts, params) {
    if (parts.length) taskPage(root, view, parts[0], params);
    else taskList(root, view);
  }

  function taskList(root, view) {
    const { project, domain } = C.scope;
    const problem = h("p", { className: "error", hidden: true });
    const rows = h("tbody");
    root.append(
      h("div", { className: "title" }, h("h1", {}, "Tasks")),
      problem,
      h(
        "div",
        { className: "scroll" },
        h(
          "table",
          { className: "list", id: "tasks" },
          h("thead", {}, h("tr", {}, ["Task", "Environment", "Latest version", "Deployed", ""].map((text) => h("th", {}, text)))),
          rows,
        ),
      ),
    );

    async function load() {
      let response;
      try {
        response = await C.call(C.services.TASK, "ListTasks", { projectId: { name: project, domain }, request: { limit: 1000 } });
      } catch (error) {
        problem.textContent = `Cannot list tasks: ${C.describeError(error)}`;
        problem.hidden = false;
        return;
      }
      if (view.closed) return;
      const tasks = (response.tasks || []).sort((a, b) => a.taskId.name.localeCompare(b.taskId.name));
      fill(
        rows,
        ...tasks.map((task) => {
          const name = task.taskId.name;
          return h(
            "tr",
            { "data-task": name },
            h("td", {}, h("a", { href: `#/tasks/${encodeURIComponent(name)}` }, name)),
            h("td", {}, task.metadata?.environmentName || "—"),
            h("td", {}, h("code", {}, task.taskId.version)),
            h("td", {}, C.formatTime(task.metadata?.deployedAt)),
            h("td", {}, h("a", { href: `#/runs?task=${encodeURIComponent(name)}` }, "runs")),
          );
        }),
      );
      if (!tasks.length) {
        rows.append(h("tr", {}, h("td", { colspan: 5, className: "empty" }, `No tasks deployed to ${project} / ${domain} yet.`)));
      }
    }

    load();
  }

  function taskPage(root, view, name, params) {
    const { project, domain } = C.scope;
    const fromRun = params.get("run");
    const problem = h("p", { className: "error", hidden: true });
    const signature = h("pre", { className: "signature", id: "signature" }, "…");
    const description = h("p", { className: "muted" });
    const versions = h("tbody");
    const runs = h("tbody");
    const triggers = h("tbody");
    const formBox = h("section", { className: "panel", id: "launch" });
    let version = params.get("version") || "";

    root.append(
      h(
        "div",
        { className: "title" },
        h("a", { href: "#/tasks" }, "Tasks"),
        h("span", { className: "muted" }, "/"),
        h("h1", {}, name),
      ),
      problem,
      signature,
      description,
      h(
        "div",
        { className: "split" },
        h(
          "section",
          { className: "panel" },
          h("h2", {}, "Versions"),
          h(
            "div",
            { className: "scroll short" },
            h("table", { className: "list", id: "versions" }, h("thead", {}, h("tr", {}, ["Version", "Deployed", ""].map((text) => h("th", {}, text)))), versions),
          ),
          h("h2", {}, "Recent runs ", h("a", { href: `#/runs?task=${encodeURIComponent(name)}`, className: "small" }, "all")),
          h(
            "div",
            { className: "scroll short" },
            h("table", { className: "list", id: "task-runs" }, h("thead", {}, h("tr", {}, ["Run", "Phase", "Started"].map((text) => h("th", {}, text)))), runs),
          ),
          h("h2", {}, "Triggers"),
          h(
            "table",
            { className: "list", id: "task-triggers" },
            h("thead", {}, h("tr", {}, ["Trigger", "Schedule", "Active"].map((text) => h("th", {}, text)))),
            triggers,
          ),
        ),
        formBox,
      ),
    );

    async function load() {
      try {
        const [listed, recent, triggerList] = await Promise.all([
          C.call(C.services.TASK, "ListVersions", { taskName: { project, domain, name }, request: { limit: 100 } }),
          C.call(C.services.RUN, "ListRuns", { taskName: { project, domain, name }, request: { limit: 10 } }),
          C.call(C.services.TRIGGER, "ListTriggers", { taskName: { project, domain, name }, request: { limit: 100 } }).catch(() => ({})),
        ]);
        if (view.closed) return;
        const all = listed.versions || [];
        if (!all.length) {
          problem.textContent = `No task ${name} is deployed to ${project} / ${domain}.`;
          problem.hidden = false;
          return;
        }
        if (!version || !all.some((item) => item.version === version)) version = all[0].version;
        const details = await C.call(C.services.TASK, "GetTaskDetails", { taskId: { project, domain, name, version } });
        description.textContent = details.details?.spec?.documentation?.shortDescription || "";
        fill(
          versions,
          all.map((item) =>
            h(
              "tr",
              { "data-version": item.version, className: item.version === version ? "selected" : "" },
              h("td", {}, h("code", {}, item.version)),
              h("td", {}, C.formatTime(item.deployedAt)),
              h("td", {}, h("a", { href: `#/tasks/${encodeURIComponent(name)}?version=${encodeURIComponent(item.version)}` }, "launch form")),
            ),
          ),
        );
        fill(
          runs,
          (recent.runs || []).map((run) =>
            h(
              "tr",
              { className: "run", "data-run": run.action.id.run.name },
              h("td", {}, h("a", { href: `#/runs/${encodeURIComponent(run.action.id.run.name)}` }, run.action.id.run.name)),
              h("td", {}, C.phaseBadge(run.action.status?.phase)),
              h("td", {}, C.formatTime(run.action.status?.startTime)),
            ),
          ),
        );
        fill(
          triggers,
          (triggerList.triggers || []).map((trigger) =>
            h("tr", {}, h("td", {}, trigger.id?.name?.name || ""), h("td", {}, C.scheduleText(trigger)), h("td", {}, trigger.active ? "yes" : "no")),
          ),
        );
        if (!(triggerList.triggers || []).length) triggers.append(h("tr", {}, h("td", { colspan: 3, className: "empty" }, "No triggers.")));
        await launchForm(formBox, view, { project, domain, name, version }, fromRun, signature);
      } catch (error) {
        if (view.closed) return;
        problem.textContent = `Cannot load the task: ${C.describeError(error)}`;
        problem.hidden = false;
      }
    }

    load();
  }

  /** The form for one task version: one field per input, prefilled from a run for a relaunch. */
  async function launchForm(box, view, task, fromRun, signature) {
    const { project, domain, name, version } = task;
    const request = { project, domain, task: { name, version } };
    if (fromRun) request.from = { run: fromRun, action: "a0" };
    const form = await C.call(C.services.CONSOLE, "GetLaunchForm", request);
    await C.identityReady;
    if (view.closed) return;
    const params = form.fields
      .map((field) => `${field.name}: ${field.type}${field.required ? "" : ` = ${field.default ?? "None"}`}`)
      .join(", ");
    const outputs = form.outputs.map((output) => output.type).join(", ") || "None";
    signature.textContent = `${name}(${params}) -> ${form.outputs.length > 1 ? `(${outputs})` : outputs}`;
    const problem = h("p", { className: "error", id: "launch-error", hidden: true });
    const inputs = new Map();
    const fieldErrors = new Map();
    const fieldset = form.fields.map((field) => {
      const id = `input-${field.name}`;
      let control;
      const initial = field.value ?? "";
      if (field.kind === "bool") {
        control = h(
          "select",
          { id, name: field.name },
          field.required ? null : h("option", { value: "" }, `default (${field.default ?? "None"})`),
          h("option", { value: "true" }, "true"),
          h("option", { value: "false" }, "false"),
        );
        control.value = initial || (field.required ? "false" : "");
      } else if (field.kind === "choice") {
        control = h(
          "select",
          { id, name: field.name },
          field.required ? null : h("option", { value: "" }, `default (${field.default ?? "None"})`),
          field.choices.map((choice) => h("option", { value: choice }, choice)),
        );
        control.value = initial || (field.required ? field.choices[0] : "");
      } else if (field.kind === "json") {
        control = h("textarea", { id, name: field.name, rows: 3, placeholder: field.default ?? "JSON", spellcheck: "false" });
        control.value = initial;
      } else {
        const hints = {
          int: ["numeric", "an integer"],
          float: ["decimal", "a number"],
          datetime: ["text", "2026-01-31T12:00:00 or now"],
          duration: ["text", "90s, 5m, 1h"],
          file: ["url", "a file location in this server's store"],
          dir: ["url", "a directory location in this server's store"],
          dataframe: ["url", "a data frame location in this server's store"],
        };
        const [mode, hint] = hints[field.kind] || ["text", ""];
        control = h("input", {
          id,
          name: field.name,
          inputmode: mode === "url" ? "url" : mode,
          placeholder: field.default ?? hint,
          autocomplete: "off",
        });
        control.value = initial;
      }
      inputs.set(field.name, control);
      const error = h("span", { className: "field-error", id: `error-${field.name}` });
      fieldErrors.set(field.name, error);
      return h(
        "div",
        { className: "field" },
        h("label", { for: id }, field.name, " ", h("code", { className: "muted" }, field.type), field.required ? h("span", { className: "required", title: "required" }, " *") : null),
        control,
        field.description ? h("small", { className: "muted" }, field.description) : null,
        error,
      );
    });
    const submit = h("button", { type: "submit", id: "launch-submit" }, fromRun ? "Relaunch" : "Launch");
    const element = h(
      "form",
      { className: "launch", id: "launch-form", novalidate: true },
      h("h2", {}, fromRun ? `Relaunch ${fromRun}` : "Launch", h("span", { className: "muted small" }, ` version ${version}`)),
      fromRun ? h("p", { className: "muted" }, "The form holds that run's inputs; change any before launching.") : null,
      fieldset.length ? fieldset : h("p", { className: "muted" }, "This task takes no inputs."),
      problem,
      C.can("write") ? submit : h("p", { className: "muted", id: "launch-denied" }, "Your role may not launch runs."),
    );
    element.addEventListener("submit", async (event) => {
      event.preventDefault();
      problem.hidden = true;
      for (const error of fieldErrors.values()) error.textContent = "";
      const values = {};
      for (const [key, control] of inputs) values[key] = control.value;
      submit.disabled = true;
      try {
        const encoded = await C.call(C.services.CONSOLE, "EncodeInputs", { project, domain, task: { name, version }, values });
        const created = await C.call(C.services.RUN, "CreateRun", {
          projectId: { name: project, domain },
          taskId: { project, domain, name, version },
          inputs: encoded.inputs,
        });
        C.go(`#/runs/${encodeURIComponent(created.run.action.id.run.name)}`);
      } catch (error) {
        // "<input>: what is wrong" goes next to that input.
        const match = /^([A-Za-z_][\w]*): (.*)$/.exec(error.message || "");
        if (match && fieldErrors.has(match[1])) {
          fieldErrors.get(match[1]).textContent = match[2];
          inputs.get(match[1]).focus();
        } else {
          problem.textContent = `Cannot launch: ${C.describeError(error)}`;
          problem.hidden = false;
        }
      } finally {
        submit.disabled = false;
      }
    });
    fill(box, element);
  }

  C.page("tasks", { nav: "Tasks", render });
})();
