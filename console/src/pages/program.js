// One program: its graph, funnel, A/B results, versions, recent entries and exits; pause,
// resume or archive it.
import { api, enc } from "../api.js";
import { chart } from "../charts.js";
import { programGraph } from "../graph.js";
import { facts, fill, h, link, num, pct, section, status, table, when } from "../ui.js";
import { stepsTable } from "./programs.js";

const STAGES = ["entered", "sent", "opened", "clicked", "converted"];
const STAGE_LABELS = { entered: "Entered", sent: "Sent", opened: "Opened", clicked: "Clicked", converted: "Converted" };

export async function programPage(main, programId, rerender) {
  const detail = await api.get(`/admin/programs/${enc(programId)}`);
  const program = detail.program || {};
  const name = program.name || programId;
  const message = h("div", { "aria-live": "polite" });
  const actions = h(
    "div",
    { className: "actions" },
    ["pause", "resume", "archive"].map((action) =>
      h(
        "button",
        {
          type: "button",
          disabled: (action === "pause" && program.status !== "active") || (action === "resume" && program.status !== "paused") || program.status === "archived" ? true : undefined,
          onClick: async () => {
            try {
              const answer = await api.post(`/admin/programs/${enc(programId)}/${action}`);
              await rerender(status(`${name} is now ${answer.status}.`));
            } catch (err) {
              fill(message, status(err.message, "error"));
            }
          },
        },
        action[0].toUpperCase() + action.slice(1),
      ),
    ),
  );
  const funnel = detail.funnel || [];
  const ab = detail.ab || [];
  main.append(
    h("p", { className: "crumbs" }, link("#/programs", "Programs"), " / ", name),
    h("h1", { tabindex: "-1" }, name),
    facts(
      [
        ["Program id", programId],
        ["Status", program.status],
        ["Live version", num(program.version)],
      ],
      "program",
    ),
    actions,
    message,
    section(
      "Graph",
      programGraph(programId, detail.graph, `${name}: each step of the compiled state machine with the contacts that reached it`),
      stepsTable(programId, detail.graph),
    ),
    section(
      "Funnel",
      funnel.length
        ? chart({
            name: "funnel",
            caption: `${name}: contacts per step and stage`,
            labels: funnel.map((f) => f.label || f.step),
            series: STAGES.map((s) => ({ label: STAGE_LABELS[s], data: funnel.map((f) => f[s] ?? 0) })),
            yTitle: "contacts",
          })
        : null,
      table(
        "Funnel per step",
        ["Step", ...STAGES.map((s) => STAGE_LABELS[s])],
        funnel.map((f) => [f.label || f.step, ...STAGES.map((s) => num(f[s] ?? 0))]),
        { name: "funnel", numeric: [1, 2, 3, 4, 5], rowHeaders: true, empty: "No one has entered this program yet." },
      ),
    ),
    section(
      "A/B tests",
      ab.length
        ? ab.map((test) =>
            h(
              "div",
              { className: "ab" },
              table(
                `Split at ${test.step}: ${test.winner ? `winner ${test.winner}` : "no winner yet"}${test.confidence != null ? `, confidence ${pct(test.confidence)}` : ""}`,
                ["Variant", "Entered", "Converted", "Rate", "Uplift", "Confidence"],
                test.variants.map((v) => [
                  test.winner === v.name ? `${v.name} (winner)` : v.name,
                  num(v.sent),
                  num(v.converted),
                  pct(v.rate),
                  v.uplift == null ? "–" : `${v.uplift > 0 ? "+" : ""}${pct(v.uplift)}`,
                  pct(v.confidence),
                ]),
                { name: `ab-${test.step}`, numeric: [1, 2, 3, 4, 5], rowHeaders: true },
              ),
            ),
          )
        : h("p", {}, "This program has no split steps."),
    ),
    section(
      "Versions",
      table(
        "Deployed versions",
        ["Version", "Deployed"],
        (detail.versions || []).map((v) => [num(v.version), when(v.deployed_at)]),
        { name: "versions", numeric: [0] },
      ),
    ),
    section(
      "Recent entries and exits",
      h(
        "div",
        { className: "two" },
        table(
          "Recent entries",
          ["Contact", "Entered"],
          (detail.recent?.entries || []).map((e) => [contactLink(e.contact_id), when(e.at)]),
          { name: "entries" },
        ),
        table(
          "Recent exits",
          ["Contact", "Exited", "Reason"],
          (detail.recent?.exits || []).map((e) => [contactLink(e.contact_id), when(e.at), e.reason || "–"]),
          { name: "exits" },
        ),
      ),
    ),
  );
}

function contactLink(contactId) {
  return link(`#/contacts/${enc(contactId)}`, contactId);
}
