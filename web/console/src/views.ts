// The three views: every reseller, one reseller's organizations, one organization's drill-down.
import { run } from "./api";
import { barChart } from "./charts";
import { type Coverage, coverageBadges, figure } from "./coverage";
import { h } from "./dom";
import { decimal } from "./format";
import {
  ConsoleOrganizationDocument,
  ConsoleResellerDocument,
  ConsoleResellersDocument,
} from "./generated/graphql";
import { chartMonths, type RangeChoice, rangeParams } from "./range";
import { costChart, errorBox, monthlyChart, usageTable, withExport } from "./tables";

function link(path: string, range: RangeChoice, text: string): HTMLAnchorElement {
  return h("a", { href: `#${path}?${rangeParams(range).toString()}` }, text);
}

function variables(range: RangeChoice) {
  return {
    range: { firstDay: range.firstDay, lastDay: range.lastDay },
    partialMonths: range.partialMonths,
  };
}

/** Narrows the list by name on the server (the connection's filter: nameContains). */
function nameFilter(range: RangeChoice, current: string): HTMLElement {
  const input = h("input", { type: "search", id: "name-filter", value: current });
  const form = h(
    "form",
    { class: "picker", role: "search", "aria-label": "Resellers by name" },
    h("label", { for: "name-filter" }, "Name contains"),
    input,
    h("button", { type: "submit" }, "Filter"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = rangeParams(range);
    if (input.value.trim()) params.set("q", input.value.trim());
    window.location.hash = `/?${params.toString()}`;
  });
  return form;
}

export async function resellersView(
  range: RangeChoice,
  nameContains: string | null,
): Promise<HTMLElement> {
  const { data, errors } = await run(ConsoleResellersDocument, {
    ...variables(range),
    nameContains,
  });
  const list = data?.resellersConnection;
  if (!list) return h("div", {}, h("h2", {}, "Resellers"), errorBox(errors));
  const rows = list.nodes.map((r) => ({
    label: link(`/reseller/${encodeURIComponent(r.id)}`, range, r.name),
    usage: r.usage,
    coverage: r.usage.coverage,
  }));
  return h(
    "div",
    {},
    h("h2", {}, `Resellers (${list.totalCount})`),
    nameFilter(range, nameContains ?? ""),
    errors.length > 0 ? errorBox(errors) : null,
    usageTable("Resellers", "Reseller", rows, errors),
    costChart(
      "Cost per currency by reseller",
      list.nodes.map((r) => ({ name: r.name, costs: r.usage.costs })),
    ),
  );
}

export async function resellerView(id: string, range: RangeChoice): Promise<HTMLElement> {
  const { data, errors } = await run(ConsoleResellerDocument, {
    ...variables(range),
    ...chartMonths(range.lastDay),
    id,
  });
  const reseller = data?.reseller;
  if (!reseller) return h("div", {}, h("h2", {}, "Reseller not found"), errorBox(errors));
  const organizations = reseller.organizationsConnection;
  return h(
    "div",
    {},
    h("p", {}, link("/", range, "All resellers")),
    h("h2", {}, reseller.name),
    errors.length > 0 ? errorBox(errors) : null,
    usageTable(
      "Reseller total",
      "Reseller",
      [{ label: reseller.name, usage: reseller.usage, coverage: reseller.usage.coverage }],
      errors,
    ),
    organizations
      ? usageTable(
          "Organizations",
          "Organization",
          organizations.nodes.map((o) => ({
            label: link(`/organization/${encodeURIComponent(o.id)}`, range, o.name),
            usage: o.usage,
            coverage: o.usage.coverage,
          })),
          errors,
        )
      : null,
    monthlyChart("Voice minutes by month and source", reseller.monthly),
    organizations
      ? costChart(
          "Cost per currency by organization",
          organizations.nodes.map((o) => ({ name: o.name, costs: o.usage.costs })),
        )
      : null,
  );
}

export async function organizationView(id: string, range: RangeChoice): Promise<HTMLElement> {
  const { data, errors } = await run(ConsoleOrganizationDocument, {
    ...variables(range),
    ...chartMonths(range.lastDay),
    id,
  });
  const org = data?.organization;
  if (!org) return h("div", {}, h("h2", {}, "Organization not found"), errorBox(errors));
  const coverage: Coverage = org.usage.coverage;
  const bySource = org.usage.bySource.map((part) => ({
    label: part.source,
    usage: part,
    // a source's own row carries only its own coverage
    coverage: {
      complete: part.coverage.status === "EXACT",
      sources: [{ ...part.coverage, source: part.source, firstDay: null, lastDay: null }],
    },
  }));
  const agents = org.agentsConnection;
  const users = org.usersConnection;
  return h(
    "div",
    {},
    h(
      "p",
      {},
      link("/", range, "All resellers"),
      org.reseller ? " / " : null,
      org.reseller
        ? link(`/reseller/${encodeURIComponent(org.reseller.id)}`, range, org.reseller.name)
        : null,
    ),
    h("h2", {}, org.name),
    errors.length > 0 ? errorBox(errors) : null,
    usageTable(
      "Usage by source",
      "Source",
      [
        ...bySource,
        { label: "Total", usage: org.usage, coverage },
        {
          label: "Unattributed",
          usage: org.unattributedUsage,
          coverage: org.unattributedUsage.coverage,
        },
      ],
      errors,
    ),
    monthlyChart("Voice minutes by month and source", org.monthly),
    agents
      ? withExport(
          "Top agents by voice minutes",
          h(
            "table",
            { "data-table": "Top agents by voice minutes" },
            h(
              "caption",
              {},
              `Top agents by voice minutes (${agents.nodes.length} of ${agents.totalCount})`,
            ),
            h(
              "thead",
              {},
              h(
                "tr",
                {},
                h("th", { scope: "col" }, "Agent"),
                h("th", { scope: "col", class: "num" }, "Voice minutes"),
              ),
            ),
            h(
              "tbody",
              {},
              ...agents.nodes.map((a) =>
                h(
                  "tr",
                  {},
                  h("th", { scope: "row" }, a.name),
                  h(
                    "td",
                    { class: "num" },
                    figure(
                      a.usage.voice ? decimal(a.usage.voice.minutes) : null,
                      a.usage.coverage,
                      errors,
                    ),
                  ),
                ),
              ),
            ),
          ),
        )
      : h("div", {}, h("h3", {}, "Agents"), figure(null, coverage, errors)),
    agents
      ? barChart({
          title: "Top agents",
          unit: "voice minutes",
          horizontal: true,
          labels: agents.nodes.map((a) => a.name),
          series: [
            {
              label: "Voice minutes",
              values: agents.nodes.map((a) =>
                a.usage.voice ? Number(a.usage.voice.minutes) : null,
              ),
            },
          ],
        })
      : null,
    users
      ? usageTable(
          `Users (${users.nodes.length} of ${users.totalCount})`,
          "User",
          users.nodes.map((u) => ({ label: u.name, usage: u.usage, coverage: u.usage.coverage })),
          errors,
        )
      : h("div", {}, h("h3", {}, "Users"), figure(null, coverage, errors)),
    h("p", { class: "note" }, "Coverage of the organization's total: ", coverageBadges(coverage)),
  );
}
