// Apps: the deployed apps of the project and domain, their status, replicas and URL (docs/apps.md).
"use strict";

(() => {
  const C = window.FlyteConsole;
  const { h, fill } = C;
  const APP_SERVICE = "flyteidl2.app.AppService";
  const STATUS_CLASS = {
    ACTIVE: "phase-succeeded",
    STARTED: "phase-succeeded",
    DEPLOYING: "phase-running",
    PENDING: "phase-queued",
    FAILED: "phase-failed",
    STOPPED: "phase-aborted",
  };

  function statusBadge(app) {
    const conditions = app.status?.conditions || [];
    const last = conditions[conditions.length - 1] || {};
    const name = (last.deploymentStatus || "DEPLOYMENT_STATUS_UNSPECIFIED").replace("DEPLOYMENT_STATUS_", "");
    const sub = (last.substate || "").replace("SUBSTATE_UNSPECIFIED", "").toLowerCase().replaceAll("_", " ");
    return h(
      "span",
      { className: `phase ${STATUS_CLASS[name] || ""}`, title: last.message || "" },
      sub ? `${name.toLowerCase()} (${sub})` : name.toLowerCase(),
    );
  }

  function apps(root, view) {
    const { project, domain } = C.scope;
    const problem = h("p", { className: "error", hidden: true });
    const rows = h("tbody");
    root.append(
      h("div", { className: "title" }, h("h1", {}, "Apps")),
      problem,
      h(
        "div",
        { className: "scroll" },
        h(
          "table",
          { className: "list", id: "apps" },
          h("thead", {}, h("tr", {}, ["App", "Status", "Replicas", "URL"].map((text) => h("th", {}, text)))),
          rows,
        ),
      ),
    );

    async function load() {
      let response;
      try {
        response = await C.call(APP_SERVICE, "List", { project: { name: project, domain }, request: { limit: 200 } });
      } catch (error) {
        if (view.closed) return false;
        problem.textContent = `Cannot list apps: ${C.describeError(error)}`;
        problem.hidden = false;
        return true;
      }
      if (view.closed) return false;
      problem.hidden = true;
      const list = response.apps || [];
      fill(
        rows,
        list.map((app) => {
          const name = app.metadata?.id?.name || "";
          const url = app.status?.ingress?.publicUrl || "";
          return h(
            "tr",
            { "data-app": name },
            h("td", {}, name),
            h("td", {}, statusBadge(app)),
            h("td", {}, String(app.status?.currentReplicas || 0)),
            h("td", {}, url ? h("a", { href: url, target: "_blank", rel: "noopener" }, url) : ""),
          );
        }),
      );
      if (!list.length) rows.append(h("tr", {}, h("td", { colspan: 4, className: "empty" }, `No apps in ${project} / ${domain}.`)));
      return true;
    }

    view.poll(load);
  }

  C.page("apps", { nav: "Apps", render: apps });
})();
