// A program drawn as its compiled state machine: the admin API's graph (nodes = states,
// edges = transitions) laid out by dagre in Cytoscape, each node labelled with its live count.
import cytoscape from "cytoscape";
import dagre from "cytoscape-dagre";
import { h, num } from "./ui.js";

cytoscape.use(dagre);

const SHAPES = {
  choice: "diamond",
  wait: "round-hexagon",
  succeed: "ellipse",
  fail: "ellipse",
  end: "ellipse",
  start: "ellipse",
};

const live = new Set();
const pending = [];

export function destroyGraphs() {
  for (const cy of live) cy.destroy();
  live.clear();
  pending.length = 0;
}

/** Lay out the graphs of a page once it is in the document (a layout needs the box's size). */
export function mountGraphs() {
  for (const init of pending.splice(0)) init();
}

export function nodeLabel(node) {
  return `${node.label || node.id}\n${num(node.count ?? 0)}`;
}

/**
 * The program's graph in a figure whose caption says what the numbers are. The canvas is
 * hidden from screen readers; the same nodes and counts are listed in the table after it.
 */
export function programGraph(programId, graph, caption) {
  const box = h("div", { className: "graph", "aria-hidden": "true", dataset: { graph: programId } });
  const figure = h("figure", { className: "graph-figure" }, box, h("figcaption", {}, caption));
  const elements = [
    ...graph.nodes.map((n) => ({
      data: { id: n.id, label: nodeLabel(n), count: n.count ?? 0, kind: (n.kind || "").toLowerCase() },
    })),
    ...graph.edges
      .filter((e) => graph.nodes.some((n) => n.id === e.from) && graph.nodes.some((n) => n.id === e.to))
      .map((e, i) => ({ data: { id: `e${i}`, source: e.from, target: e.to, label: e.label || "" } })),
  ];
  pending.push(() => {
    const cy = cytoscape({
      container: box,
      elements,
      autoungrabify: true,
      boxSelectionEnabled: false,
      userZoomingEnabled: false,
      style: [
        {
          selector: "node",
          style: {
            shape: (n) => SHAPES[n.data("kind")] || "round-rectangle",
            label: "data(label)",
            "text-wrap": "wrap",
            "text-valign": "center",
            "font-size": 12,
            color: "#102a43",
            "background-color": "#e6f0fa",
            "border-width": 2,
            "border-color": "#0b5394",
            width: (n) => Math.max(80, 7.2 * Math.max(...n.data("label").split("\n").map((l) => l.length))),
            height: 44,
            padding: 8,
          },
        },
        { selector: "node[count > 0]", style: { "background-color": "#cce0f5" } },
        {
          selector: "edge",
          style: {
            width: 2,
            "curve-style": "bezier",
            "target-arrow-shape": "triangle",
            "line-color": "#52606d",
            "target-arrow-color": "#52606d",
            label: "data(label)",
            "font-size": 10,
            color: "#323f4b",
            "text-background-color": "#ffffff",
            "text-background-opacity": 1,
          },
        },
      ],
      layout: { name: "dagre", rankDir: "TB", nodeSep: 30, rankSep: 40 },
    });
    live.add(cy);
    window.__graphs = window.__graphs || {};
    window.__graphs[programId] = cy;
    box.dataset.ready = "true";
  });
  return figure;
}
