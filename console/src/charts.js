// Charts with Chart.js (only the parts the console uses are registered). Every chart sits in a
// <figure> with a caption, and the same numbers are in a table beside it for screen readers.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { h } from "./ui.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Legend, Tooltip);
Chart.defaults.color = "#1f2933";
Chart.defaults.font.family = "system-ui, sans-serif";
Chart.defaults.animation = false; // charts are read (and screenshotted) as soon as drawn

// Distinguishable colours (Okabe-Ito), dark enough against white for the bars' 3:1.
export const PALETTE = ["#0b5394", "#c0392b", "#117a65", "#7d3c98", "#b9770e", "#2e4053", "#a04000"];

const live = new Set();

/** Destroy the charts of the page being left. */
export function destroyCharts() {
  for (const chart of live) chart.destroy();
  live.clear();
}

/**
 * A bar (or line) chart of `series` over `labels`, in a captioned figure. `name` marks the
 * figure (data-chart) so tests can find the chart and read the numbers it was given.
 */
export function chart({ name, caption, labels, series, type = "bar", stacked = false, yTitle }) {
  const canvas = h("canvas", { role: "img", "aria-label": caption });
  const figure = h(
    "figure",
    { className: "chart", dataset: { chart: name } },
    h("div", { className: "canvas-box" }, canvas),
    h("figcaption", {}, caption),
  );
  const instance = new Chart(canvas, {
    type,
    data: {
      labels,
      datasets: series.map((s, i) => ({
        label: s.label,
        data: s.data,
        backgroundColor: PALETTE[i % PALETTE.length],
        borderColor: PALETTE[i % PALETTE.length],
      })),
    },
    options: {
      maintainAspectRatio: false,
      scales: {
        x: { stacked },
        y: { stacked, beginAtZero: true, title: yTitle ? { display: true, text: yTitle } : undefined },
      },
      plugins: { legend: { position: "bottom" } },
    },
  });
  live.add(instance);
  window.__charts = window.__charts || {};
  window.__charts[name] = instance;
  return figure;
}
