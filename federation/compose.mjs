// Composes Federation v2 subgraphs into a supergraph with @theguild/federation-composition.
//
//   node compose.mjs spec.json
//
// spec.json: {"output": "supergraph.graphql", "subgraphs": [{"name": "usagegraph",
// "url": "http://127.0.0.1:8000/graphql", "sdl": "..."}]}; a subgraph without "sdl" is asked
// for it (`{ _service { sdl } }`) at its url, as a gateway would. Writes the supergraph SDL to
// "output" and prints one JSON line: {"ok": true, "publicSdl": "..."} or
// {"ok": false, "errors": ["..."]} (exit code 1).
import { readFile, writeFile } from "node:fs/promises";
import { composeServices } from "@theguild/federation-composition";
import { parse } from "graphql";

async function subgraphSdl({ name, url, sdl }) {
  if (sdl) return sdl;
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: "{ _service { sdl } }" }),
  });
  const body = await response.json();
  if (!response.ok || body.errors) {
    throw new Error(`${name}: _service { sdl } failed: ${response.status} ${JSON.stringify(body)}`);
  }
  return body.data._service.sdl;
}

const spec = JSON.parse(await readFile(process.argv[2], "utf8"));
const services = [];
for (const subgraph of spec.subgraphs) {
  services.push({ name: subgraph.name, url: subgraph.url, typeDefs: parse(await subgraphSdl(subgraph)) });
}
const result = composeServices(services);
if (result.errors) {
  console.log(JSON.stringify({ ok: false, errors: result.errors.map((e) => e.message) }));
  process.exit(1);
}
await writeFile(spec.output, result.supergraphSdl);
console.log(JSON.stringify({ ok: true, publicSdl: result.publicSdl }));
