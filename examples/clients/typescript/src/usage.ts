// How a dashboard uses the generated client: every operation's result and variables are typed
// from schema.graphql and examples/operations. `tsc --noEmit` (make test-clients) checks this
// file, including the mistakes below that the compiler must refuse (@ts-expect-error fails the
// build if a line compiles).
import { print } from "graphql";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
// ".js": the compiled file's name, so `tsc --outDir` output also runs under node (make
// test-clients runs topOrganizationsByCost); tsc resolves it to graphql.ts
import {
  CostByCurrencyDocument,
  ResellerOverviewDocument,
  TopAgentsDocument,
  TopOrganizationsByCostDocument,
  type ResellerOverviewQuery,
  type TopOrganizationsByCostQuery,
} from "./generated/graphql.js";

/** POST one typed operation to usagegraph; the result's type follows from the document. */
export async function request<Result, Variables>(
  url: string,
  document: TypedDocumentNode<Result, Variables>,
  variables: Variables,
  apiKey?: string,
): Promise<Result> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
    },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const body = (await response.json()) as { data?: Result; errors?: { message: string }[] };
  if (body.errors?.length || !body.data) {
    throw new Error(body.errors?.map((e) => e.message).join("; ") ?? `HTTP ${response.status}`);
  }
  return body.data;
}

/** Minutes per reseller for October 2026; `minutes` is a Decimal, sent as an exact string. */
export async function minutesByReseller(url: string): Promise<Map<string, string | null>> {
  const data: ResellerOverviewQuery = await request(url, ResellerOverviewDocument, {
    firstDay: "2026-10-01",
    lastDay: "2026-10-31",
  });
  return new Map(data.resellers.map((r) => [r.name, r.usage.voice?.minutes ?? null]));
}

/** The top three agents' exact seconds (null when the organization is unknown). */
export async function topAgentSeconds(url: string, organization: string): Promise<number[] | null> {
  const data = await request(url, TopAgentsDocument, {
    organization,
    firstDay: "2026-10-01",
    lastDay: "2026-10-31",
    top: 3,
  });
  const agents = data.organization?.agents;
  return agents ? agents.map((a) => a.usage.voice?.seconds ?? 0) : null;
}

/** Costs are one entry per currency: amounts stay strings, never summed across currencies. */
export async function costsInEuro(url: string): Promise<string[]> {
  const data = await request(url, CostByCurrencyDocument, {
    firstDay: "2026-10-01",
    lastDay: "2026-10-31",
  });
  return data.organizations.flatMap(
    (o) => o.usage.costs?.filter((c) => c.currency === "EUR").map((c) => c.amount) ?? [],
  );
}

// null when a source the ranking needs failed (with an error saying which)
type CostPage = NonNullable<TopOrganizationsByCostQuery["organizationsConnection"]>;

/** The first `pages` pages of organizations by cost (10 each), every next page asked after the
 * previous page's `endCursor`; stops early when `hasNextPage` says the list ended. */
export async function topOrganizationsByCost(
  url: string,
  firstDay: string,
  lastDay: string,
  pages: number,
): Promise<CostPage[]> {
  const out: CostPage[] = [];
  let after: string | null = null;
  for (let page = 0; page < pages; page++) {
    const data: TopOrganizationsByCostQuery = await request(url, TopOrganizationsByCostDocument, {
      firstDay,
      lastDay,
      after,
    });
    const connection = data.organizationsConnection;
    if (!connection) throw new Error("organizations could not be ranked by cost");
    out.push(connection);
    if (!connection.pageInfo.hasNextPage) break;
    after = connection.pageInfo.endCursor ?? null;
  }
  return out;
}

// -- what the types refuse ------------------------------------------------------------------

export async function mistakes(url: string): Promise<void> {
  // @ts-expect-error lastDay is a required variable
  await request(url, ResellerOverviewDocument, { firstDay: "2026-10-01" });

  // @ts-expect-error top is an Int, not a string
  await request(url, TopAgentsDocument, { organization: "x", firstDay: "a", lastDay: "b", top: "3" });

  const data = await request(url, ResellerOverviewDocument, { firstDay: "a", lastDay: "b" });
  // @ts-expect-error the operation did not select voice.seconds
  void data.resellers[0]?.usage.voice?.seconds;
  // @ts-expect-error voice may be null (a failed source): it must be checked first
  void data.resellers[0]?.usage.voice.minutes;
  // @ts-expect-error a Decimal is a string, not a number: no float arithmetic on money
  const doubled: number = data.resellers[0]?.usage.costs?.[0]?.amount * 2;
  void doubled;

  // @ts-expect-error a cursor is an opaque string, not a page number
  await request(url, TopOrganizationsByCostDocument, { firstDay: "a", lastDay: "b", after: 10 });
  const ranked = await request(url, TopOrganizationsByCostDocument, { firstDay: "a", lastDay: "b" });
  // @ts-expect-error the connection is null when a source the ranking needs failed
  void ranked.organizationsConnection.totalCount;
  // @ts-expect-error endCursor is null on an empty page: it must be checked first
  const cursor: string = ranked.organizationsConnection?.pageInfo.endCursor;
  void cursor;
}
