// Usage tables: one row per entity, every figure with its coverage, and a CSV export button.
import type { GraphQLError } from "./api";
import { barChart } from "./charts";
import { type Coverage, coverageBadges, figure } from "./coverage";
import { download, tableCsv } from "./csv";
import { h } from "./dom";
import { costs, decimal, type Money, smsSegments } from "./format";

export interface UsageRow {
  label: string | HTMLElement;
  usage: {
    voice: { minutes: string } | null;
    sms: {
      inboundSegments: number | null;
      outboundSegments: number | null;
      otherDirectionSegments: number | null;
    } | null;
    costs: Money[] | null;
  };
  coverage: Coverage;
}

export function usageTable(
  caption: string,
  nameHeader: string,
  rows: UsageRow[],
  errors: GraphQLError[],
): HTMLElement {
  const table = h(
    "table",
    { "data-table": caption },
    h("caption", {}, caption),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, nameHeader),
        h("th", { scope: "col", class: "num" }, "Voice minutes"),
        h("th", { scope: "col", class: "num" }, "SMS segments"),
        h("th", { scope: "col", class: "num" }, "Cost"),
        h("th", { scope: "col" }, "Coverage"),
      ),
    ),
    h(
      "tbody",
      {},
      ...rows.map((row) => {
        const sms = smsSegments(row.usage.sms);
        return h(
          "tr",
          {},
          h("th", { scope: "row" }, row.label),
          h(
            "td",
            { class: "num" },
            figure(row.usage.voice ? decimal(row.usage.voice.minutes) : null, row.coverage, errors),
          ),
          h(
            "td",
            { class: "num" },
            figure(sms === null ? null : decimal(String(sms)), row.coverage, errors),
          ),
          h(
            "td",
            { class: "num" },
            figure(row.usage.costs ? costs(row.usage.costs) : null, row.coverage, errors),
          ),
          h("td", {}, coverageBadges(row.coverage)),
        );
      }),
    ),
  );
  return withExport(caption, table);
}

/** A table with its CSV button (the file is named after the caption). */
export function withExport(caption: string, table: HTMLTableElement): HTMLElement {
  const button = h("button", { type: "button", class: "export" }, `Export CSV: ${caption}`);
  button.addEventListener("click", () => {
    const name = caption
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "");
    download(`${name}.csv`, tableCsv(table));
  });
  return h("section", { class: "table-block" }, h("div", { class: "scroll" }, table), button);
}

/** Charges per currency, one bar group per row; never summed across currencies. */
export function costChart(
  title: string,
  rows: Array<{ name: string; costs: Money[] | null }>,
): HTMLElement {
  const currencies = [
    ...new Set(rows.flatMap((r) => (r.costs ?? []).map((m) => m.currency))),
  ].sort();
  return barChart({
    title,
    unit: "amount per currency",
    labels: rows.map((r) => r.name),
    series: currencies.map((currency) => ({
      label: currency,
      values: rows.map((r) => {
        if (r.costs === null) return null;
        const money = r.costs.find((m) => m.currency === currency);
        return money ? Number(money.amount) : 0;
      }),
    })),
  });
}

/** Voice minutes per month, one stacked bar segment per source. */
export function monthlyChart(
  title: string,
  months: Array<{
    month: string;
    usage: { bySource: Array<{ source: string; voice: { minutes: string } | null }> };
  }>,
): HTMLElement {
  const sources = [...new Set(months.flatMap((m) => m.usage.bySource.map((s) => s.source)))].sort();
  return barChart({
    title,
    unit: "voice minutes",
    stacked: true,
    labels: months.map((m) => m.month),
    series: sources.map((source) => ({
      label: source,
      values: months.map((m) => {
        const part = m.usage.bySource.find((s) => s.source === source);
        return part?.voice ? Number(part.voice.minutes) : null;
      }),
    })),
  });
}

export function errorBox(errors: GraphQLError[]): HTMLElement {
  return h(
    "div",
    { class: "error-box", role: "alert" },
    // one line per distinct error: a source's failure is reported once per field it broke
    ...[...new Map(errors.map((e) => [e.message, e])).values()].map((e) =>
      h(
        "p",
        {},
        `${e.extensions?.code ?? "ERROR"}${e.extensions?.source ? ` (${e.extensions.source})` : ""}: ${e.message}`,
      ),
    ),
  );
}
