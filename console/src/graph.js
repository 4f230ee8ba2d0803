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

/** A step's label and, on a second line, the contacts that reached it (states the compiler
 * adds around a step, such as a send window's wait, have no count of their own). */
export function nodeLabel(node) {
  const label = node.label || node.id;
  return node.count === null || node.count === undefined ? label : `${label}\n${num(node.count)}`;
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
      data: {
        id: n.id,
        label: nodeLabel(n),
        count: n.count ?? -1,
        kind: (n.kind || "").toLowerCase(),
      },
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
      maxZoom: 1.5, // a one-step program stays readable, not blown up to the box
      minZoom: 0.3,
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
          selector: "node[count < 0]",
          style: { "border-style": "dashed", "background-color": "#ffffff", "font-size": 10, height: 30 },
        },
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
    // as tall as the graph needs at a readable scale (within limits), then fitted
    const bb = cy.elements().boundingBox();
    const scale = Math.min(1.2, (box.clientWidth - 40) / Math.max(bb.w, 1));
    box.style.height = `${Math.round(Math.min(1100, Math.max(200, bb.h * scale + 50)))}px`;
    cy.resize();
    cy.fit(undefined, 20);
    live.add(cy);
    window.__graphs = window.__graphs || {};
    window.__graphs[programId] = cy;
    box.dataset.ready = "true";
  });
  return figure;
}
