// Apollo Client 4's persisted-query link against a running usagegraph (make test-clients).
//
//   node apq-check.mjs <graphql url> <operation file> <variables JSON>
//
// Runs the operation twice, each time with a fresh ApolloClient (no client cache) whose link
// sends the SHA-256 hash alone over GET first, as production frontends do
// (`useGETForHashedQueries`), and prints one JSON line: each run's data and every HTTP request
// the link made (method, whether the query text was sent, status, error codes).
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";

const [url, operationFile, variablesJson] = process.argv.slice(2);
const query = gql(await readFile(operationFile, "utf8"));
const variables = JSON.parse(variablesJson);
const requests = [];

async function recordingFetch(input, init = {}) {
  const method = (init.method ?? "GET").toUpperCase();
  const target = new URL(String(input));
  const body = typeof init.body === "string" ? JSON.parse(init.body) : {};
  const response = await fetch(input, init);
  const answer = await response.clone().json();
  requests.push({
    method,
    sentQuery: method === "GET" ? target.searchParams.has("query") : typeof body.query === "string",
    sentHash: (method === "GET" ? target.searchParams.get("extensions") ?? "" : JSON.stringify(body.extensions ?? {})).includes("sha256Hash"),
    status: response.status,
    codes: (answer.errors ?? []).map((e) => e.extensions?.code),
  });
  return response;
}

const sha256 = (text) => createHash("sha256").update(text).digest("hex");
const runs = [];
for (let run = 0; run < 2; run++) {
  const link = new PersistedQueryLink({ sha256, useGETForHashedQueries: true }).concat(
    new HttpLink({ uri: url, fetch: recordingFetch }),
  );
  const client = new ApolloClient({ link, cache: new InMemoryCache() });
  const first = requests.length;
  const { data, error } = await client.query({ query, variables, fetchPolicy: "network-only" });
  runs.push({ data, error: error ? String(error) : null, requests: requests.slice(first) });
}
console.log(JSON.stringify({ runs }));
