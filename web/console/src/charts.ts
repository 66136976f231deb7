// Chart.js bar charts, registered piecemeal so the bundle carries only what is drawn. Charts draw
// floats from the exact strings; the tables beside them keep the exact figures.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  Tooltip,
} from "chart.js";
import { h } from "./dom";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

// Distinguishable colours with enough contrast on white.
const PALETTE = ["#1f5fa8", "#b3541e", "#2e7d32", "#6a1b9a", "#00838f", "#9e2a2b"];

export interface Series {
  label: string;
  values: Array<number | null>;
}

export interface BarChartSpec {
  title: string;
  labels: string[];
  series: Series[];
  stacked?: boolean;
  horizontal?: boolean;
  unit: string;
}

/** A figure with a heading and a canvas; the canvas is described for screen readers. */
export function barChart(spec: BarChartSpec): HTMLElement {
  const canvas = h("canvas", {
    role: "img",
    "aria-label": `${spec.title} (${spec.unit}), bar chart`,
  });
  const figure = h(
    "figure",
    { class: "chart", "data-chart": spec.title },
    h("figcaption", {}, spec.title),
    h("div", { class: "chart-box" }, canvas),
  );
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: spec.labels,
      datasets: spec.series.map((s, i) => ({
        label: s.label,
        data: s.values,
        backgroundColor: PALETTE[i % PALETTE.length],
      })),
    },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      indexAxis: spec.horizontal ? "y" : "x",
      scales: {
        x: { stacked: spec.stacked ?? false },
        y: { stacked: spec.stacked ?? false, beginAtZero: true },
      },
      plugins: { legend: { display: spec.series.length > 1 } },
    },
  });
  return figure;
}
