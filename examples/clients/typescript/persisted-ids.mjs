// The persisted-query ids a typed-document-node client computes: each generated document
// (src/generated/graphql.ts, from `npm run generate`) printed by graphql-js's `print()` and
// hashed with SHA-256, as Apollo's persisted-query link hashes it. Prints one JSON line
// {"<operation name>": {"id": "<sha256>", "body": "<printed>"}}; make test-clients compares it
// with examples/persisted-operations.json (`usagegraph export-operations`).
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { print } from "graphql";

const generated = await readFile(new URL("./src/generated/graphql.ts", import.meta.url), "utf8");
const documents = {};
// generated lines: export const NameDocument = {...json...} as unknown as DocumentNode<...>;
for (const match of generated.matchAll(/^export const (\w+)Document = (\{.*\}) as unknown as DocumentNode</gm)) {
  const body = print(JSON.parse(match[2]));
  documents[match[1]] = { id: createHash("sha256").update(body).digest("hex"), body };
}
console.log(JSON.stringify(documents));
