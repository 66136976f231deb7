// Honesty on screen: which sources a figure includes, and the vendor errors that replace figures.
import type { GraphQLError } from "./api";
import { h } from "./dom";
import { age, UNKNOWN } from "./format";
import type { CoverageReason, CoverageStatus } from "./generated/graphql";

export interface SourceCoverage {
  source: string;
  status: CoverageStatus;
  reason: CoverageReason | null;
  firstDay: string | null;
  lastDay: string | null;
  asOf: string;
  stale: boolean;
}

export interface Coverage {
  complete: boolean;
  sources: SourceCoverage[];
}

const REASONS: Record<CoverageReason, string> = {
  GRANULARITY_TOO_COARSE: "monthly only, range is not whole months",
  EXPANDED_TO_WHOLE_MONTHS: "whole months counted",
  UPSTREAM_FAILED: "source failed",
  NOT_YET_REPORTED: "days after today not reported yet",
};

/** The sources whose failure left figures out of this total. */
export function failedSources(coverage: Coverage): string[] {
  return coverage.sources.filter((s) => s.reason === "UPSTREAM_FAILED").map((s) => s.source);
}

/** The error the server sent for a source (matched on extensions.source), for its badge. */
export function errorFor(source: string, errors: GraphQLError[]): GraphQLError | undefined {
  return errors.find((e) => e.extensions?.source === source) ?? errors[0];
}

export function errorBadge(source: string, errors: GraphQLError[]): HTMLElement {
  const error = errorFor(source, errors);
  const code = error?.extensions?.code ?? "UPSTREAM_ERROR";
  return h(
    "span",
    { class: "badge error", "data-error-source": source, title: error?.message ?? "" },
    `${source} error: ${code}`,
  );
}

/** A figure, or in its place why there is none: the failed vendor's error, else "unknown". */
export function figure(
  text: string | null,
  coverage: Coverage,
  errors: GraphQLError[],
): HTMLElement | string {
  if (text !== null) return text;
  const failed = failedSources(coverage);
  if (failed.length === 0) return h("span", { class: "unknown" }, UNKNOWN);
  return h("span", { class: "errors" }, ...failed.map((source) => errorBadge(source, errors)));
}

export function coverageBadges(coverage: Coverage): HTMLElement {
  const badges: HTMLElement[] = [];
  for (const s of coverage.sources) {
    if (s.stale) {
      badges.push(
        h(
          "span",
          { class: "badge stale", title: `as of ${s.asOf}` },
          `${s.source} stale ${age(s.asOf)}`,
        ),
      );
    }
    if (s.status === "MISSING" && s.reason !== "UPSTREAM_FAILED") {
      const why = s.reason ? REASONS[s.reason] : "not included";
      badges.push(h("span", { class: "badge missing", title: why }, `${s.source} missing: ${why}`));
    } else if (s.status === "EXPANDED") {
      badges.push(
        h(
          "span",
          { class: "badge expanded" },
          `${s.source} expanded ${s.firstDay} to ${s.lastDay}`,
        ),
      );
    } else if (s.status === "PARTIAL") {
      badges.push(h("span", { class: "badge partial" }, `${s.source} partial to ${s.lastDay}`));
    } else if (s.reason === "UPSTREAM_FAILED") {
      badges.push(h("span", { class: "badge error" }, `${s.source} failed`));
    }
  }
  if (coverage.complete && badges.length === 0) {
    badges.push(h("span", { class: "badge complete" }, "complete"));
  }
  return h("span", { class: "coverage" }, ...badges);
}
