// Triggers (activate/deactivate), secrets (names only) and projects/domains.
"use strict";

(() => {
  const C = window.FlyteConsole;
  const { h, fill } = C;

  function table(id, headings, body) {
    return h(
      "div",
      { className: "scroll" },
      h("table", { className: "list", id }, h("thead", {}, h("tr", {}, headings.map((text) => h("th", {}, text)))), body),
    );
  }

  function emptyRow(columns, text) {
    return h("tr", {}, h("td", { colspan: columns, className: "empty" }, text));
  }

  // --------------------------------------------------------------------------------- triggers

  function triggers(root, view) {
    const { project, domain } = C.scope;
    const problem = h("p", { className: "error", hidden: true });
    const rows = h("tbody");
    root.append(
      h("div", { className: "title" }, h("h1", {}, "Triggers")),
      problem,
      table("triggers", ["Trigger", "Task", "Schedule", "Last fired", "Active", ""], rows),
    );

    async function load() {
      let response;
      try {
        response = await C.call(C.services.TRIGGER, "ListTriggers", { projectId: { name: project, domain }, request: { limit: 200 } });
      } catch (error) {
        problem.textContent = `Cannot list triggers: ${C.describeError(error)}`;
        problem.hidden = false;
        return;
      }
      await C.identityReady;
      if (view.closed) return;
      const list = response.triggers || [];
      fill(rows, list.map(row));
      if (!list.length) rows.append(emptyRow(6, `No triggers in ${project} / ${domain}.`));
    }

    function row(trigger) {
      const id = trigger.id?.name || {};
      const toggle = C.can("write")
        ? h(
            "button",
            { type: "button", className: "small", "data-trigger": id.name },
            trigger.active ? "Deactivate" : "Activate",
          )
        : null;
      if (toggle) {
        toggle.addEventListener("click", async () => {
          toggle.disabled = true;
          try {
            await C.call(C.services.TRIGGER, "UpdateTriggers", { names: [id], active: !trigger.active });
            load();
          } catch (error) {
            problem.textContent = `Cannot change ${id.name}: ${C.describeError(error)}`;
            problem.hidden = false;
            toggle.disabled = false;
          }
        });
      }
      return h(
        "tr",
        { "data-trigger": id.name, "data-active": String(Boolean(trigger.active)) },
        h("td", {}, id.name),
        h("td", {}, h("a", { href: `#/tasks/${encodeURIComponent(id.taskName || "")}` }, id.taskName || "")),
        h("td", {}, C.scheduleText(trigger)),
        h("td", {}, C.formatTime(trigger.status?.triggeredAt)),
        h("td", {}, trigger.active ? h("span", { className: "phase phase-succeeded" }, "active") : h("span", { className: "phase" }, "inactive")),
        h("td", {}, toggle),
      );
    }

    load();
  }

  // --------------------------------------------------------------------------------- secrets

  function secrets(root, view) {
    const { project, domain } = C.scope;
    const problem = h("p", { className: "error", hidden: true });
    const rows = h("tbody");
    root.append(
      h("div", { className: "title" }, h("h1", {}, "Secrets"), h("span", { className: "muted" }, "names only; values never leave the server")),
      problem,
      table("secrets", ["Name", "Scope"], rows),
    );

    async function load() {
      const found = [];
      try {
        // Project-scoped secrets, then those of the whole organization.
        for (const request of [{ project, domain, limit: 500 }, { limit: 500 }]) {
          const response = await C.call(C.services.SECRET, "ListSecrets", request);
          for (const secret of response.secrets || []) found.push(secret);
        }
      } catch (error) {
        if (view.closed) return;
        problem.textContent =
          error instanceof C.RpcError && error.code === "permission_denied"
            ? "Listing secrets needs the admin role."
            : `Cannot list secrets: ${C.describeError(error)}`;
        problem.hidden = false;
        return;
      }
      if (view.closed) return;
      const seen = new Set();
      const unique = found.filter((secret) => {
        const key = `${secret.id?.project || ""}/${secret.id?.domain || ""}/${secret.id?.name}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
      fill(
        rows,
        unique.map((secret) =>
          h(
            "tr",
            { "data-secret": secret.id?.name },
            h("td", {}, h("code", {}, secret.id?.name || "")),
            h("td", {}, [secret.id?.project, secret.id?.domain].filter(Boolean).join(" / ") || "organization"),
          ),
        ),
      );
      if (!unique.length) rows.append(emptyRow(2, "No secrets."));
    }

    load();
  }

  // --------------------------------------------------------------------------------- projects

  function projects(root, view) {
    const problem = h("p", { className: "error", hidden: true });
    const rows = h("tbody");
    root.append(h("div", { className: "title" }, h("h1", {}, "Projects")), problem, table("projects", ["Project", "Name", "Domains", "Description"], rows));

    async function load() {
      const list = await C.loadProjects();
      if (view.closed) return;
      fill(
        rows,
        list.map((project) =>
          h(
            "tr",
            { "data-project": project.id },
            h("td", {}, h("code", {}, project.id)),
            h("td", {}, project.name || ""),
            h(
              "td",
              {},
              (project.domains || []).map((domain) =>
                h(
                  "a",
                  {
                    href: "#/runs",
                    className: "chip",
                    "data-domain": domain.id,
                    onclick: () => C.setScope(project.id, domain.id),
                  },
                  domain.id,
                ),
              ),
            ),
            h("td", {}, project.description || ""),
          ),
        ),
      );
      if (!list.length) {
        problem.textContent = "No projects (or they cannot be listed).";
        problem.hidden = false;
      }
    }

    load();
  }

  C.page("triggers", { nav: "Triggers", render: triggers });
  C.page("secrets", { nav: "Secrets", render: secrets });
  C.page("projects", { nav: "Projects", render: projects });
})();
