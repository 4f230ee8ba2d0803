// Programs: every program with its status, version and live counts, drawn as its graph.
import { api, enc } from "../api.js";
import { programGraph } from "../graph.js";
import { h, link, num, section, table } from "../ui.js";

export async function programsPage(main) {
  const { programs } = await api.get("/admin/programs");
  main.append(
    h("h1", { tabindex: "-1" }, "Programs"),
    table(
      "Every program, with how many contacts are in it now and how many finished or left",
      ["Program", "Status", "Version", "Running", "Completed", "Exited"],
      programs.map((p) => [
        link(`#/programs/${enc(p.program_id)}`, p.name || p.program_id),
        h("span", { className: `badge ${p.status}` }, p.status),
        num(p.version),
        num(p.counts?.running),
        num(p.counts?.completed),
        num(p.counts?.exited),
      ]),
      { name: "programs", numeric: [2, 3, 4, 5], rowHeaders: true, empty: "No programs deployed yet." },
    ),
  );
  // each program's graph, as compiled, with the number of contacts through each step (four
  // requests at a time: the admin API is throttled at 10 a second, bursts of 20)
  const details = await mapLimit(programs, 4, (p) => api.get(`/admin/programs/${enc(p.program_id)}`));
  for (const [i, detail] of details.entries()) {
    const p = programs[i];
    main.append(
      section(
        p.name || p.program_id,
        programGraph(
          p.program_id,
          detail.graph,
          `${p.name || p.program_id}: its compiled state machine; each step shows how many contacts reached it`,
        ),
        stepsTable(p.program_id, detail.graph),
        h("p", {}, link(`#/programs/${enc(p.program_id)}`, `Funnel, A/B results and recent runs of ${p.name || p.program_id}`)),
      ),
    );
  }
}

export function stepsTable(programId, graph) {
  return h(
    "details",
    { className: "steps" },
    h("summary", {}, "Steps as a table"),
    table(
      "Contacts that reached each step",
      ["Step", "Kind", "Contacts", "Next"],
      graph.nodes.map((n) => [
        n.label || n.id,
        n.kind || "",
        num(n.count),
        graph.edges
          .filter((e) => e.from === n.id)
          .map((e) => (e.label ? `${e.to} (${e.label})` : e.to))
          .join(", "),
      ]),
      { name: `steps-${programId}`, numeric: [2], rowHeaders: true },
    ),
  );
}

async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
