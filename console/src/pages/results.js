// Results: revenue attribution (by channel, program, campaign or content; six models) and the
// pipeline (new contacts, leads, MQLs, SQLs and customers per week) from the reports API.
import { api, query } from "../api.js";
import { chart } from "../charts.js";
import { field, h, num, section, table } from "../ui.js";

const MODELS = [
  ["first_touch", "First touch"],
  ["last_touch", "Last touch"],
  ["linear", "Linear"],
  ["u_shaped", "U-shaped"],
  ["w_shaped", "W-shaped"],
  ["time_decay", "Time decay"],
];
const PIPELINE = [
  ["new_contacts", "New contacts"],
  ["leads", "Leads"],
  ["mqls", "MQLs"],
  ["sqls", "SQLs"],
  ["customers", "Customers"],
];
const DIMENSIONS = ["channel", "program", "campaign", "content"];

export async function resultsPage(main, rerender, params) {
  const groupBy = DIMENSIONS.includes(params.get("group_by")) ? params.get("group_by") : "channel";
  const since = params.get("since") || "";
  const until = params.get("until") || "";
  const period = { since, until };
  const [attribution, pipeline] = await Promise.all([
    api.get(`/admin/reports/attribution${query({ group_by: groupBy, ...period })}`),
    api.get(`/admin/reports/pipeline${query(period)}`),
  ]);
  const pick = h(
    "select",
    { name: "group_by" },
    DIMENSIONS.map((d) => h("option", { value: d, selected: d === groupBy ? true : undefined }, d)),
  );
  const sinceInput = h("input", { type: "date", name: "since", value: since });
  const untilInput = h("input", { type: "date", name: "until", value: until });
  const form = h(
    "form",
    { className: "search", "aria-label": "Report period" },
    field("Attribute revenue by", pick),
    field("From", sinceInput),
    field("To", untilInput),
    h("div", { className: "field submit" }, h("button", { type: "submit" }, "Show")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const search = new URLSearchParams();
    search.set("group_by", pick.value);
    if (sinceInput.value) search.set("since", sinceInput.value);
    if (untilInput.value) search.set("until", untilInput.value);
    window.location.hash = `#/results?${search}`;
  });
  const rows = attribution.rows || [];
  const weeks = [...new Set((pipeline.rows || []).map((r) => r.week))].sort();
  const perWeek = (key) => weeks.map((w) => (pipeline.rows || []).filter((r) => r.week === w).reduce((sum, r) => sum + (r[key] || 0), 0));
  main.append(
    h("h1", { tabindex: "-1" }, "Results"),
    form,
    h("p", {}, `From ${attribution.period?.since ?? "?"} to ${attribution.period?.until ?? "?"} (UTC).`),
    section(
      "Attribution",
      h("p", { dataset: { total: "revenue" } }, `Revenue in the period: ${num(attribution.revenue)}`),
      rows.length
        ? chart({
            name: "attribution",
            caption: `Revenue credited to each ${groupBy} by each model`,
            labels: rows.map((r) => String(r[groupBy])),
            series: MODELS.map(([key, label]) => ({ label, data: rows.map((r) => r[key] ?? 0) })),
            yTitle: "revenue",
          })
        : null,
      table(
        `Revenue by ${groupBy} and model`,
        [groupBy[0].toUpperCase() + groupBy.slice(1), ...MODELS.map(([, label]) => label)],
        rows.map((r) => [String(r[groupBy]), ...MODELS.map(([key]) => num(r[key]))]),
        { name: "attribution", numeric: [1, 2, 3, 4, 5, 6], rowHeaders: true, empty: "No revenue in this period." },
      ),
    ),
    section(
      "Pipeline",
      weeks.length
        ? chart({
            name: "pipeline",
            caption: "New contacts, leads, MQLs, SQLs and customers per week (all sources)",
            labels: weeks,
            series: PIPELINE.map(([key, label]) => ({ label, data: perWeek(key) })),
            yTitle: "contacts",
          })
        : null,
      table(
        "Pipeline per week and source",
        ["Week", "Source", ...PIPELINE.map(([, label]) => label), "Accepted", "Avg. response"],
        (pipeline.rows || []).map((r) => [
          r.week,
          r.source ?? "(none)",
          ...PIPELINE.map(([key]) => num(r[key])),
          num(r.leads_accepted),
          r.avg_response_seconds == null ? "–" : `${num(Math.round(r.avg_response_seconds / 60))} min`,
        ]),
        { name: "pipeline", numeric: [2, 3, 4, 5, 6, 7, 8], empty: "No contacts in this period." },
      ),
    ),
  );
}
