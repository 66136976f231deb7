// graphql-http's GraphQL-over-HTTP server audit against one URL (tests/http_audit, make
// test-http-audit): prints one JSON line, {"ok": n, "results": [{id, name, status, reason?}]}.
import { auditServer } from "graphql-http";

const url = process.argv[2];
if (!url) {
  console.error("usage: node audit.mjs http://127.0.0.1:PORT/graphql");
  process.exit(2);
}
const results = await auditServer({ url });
const report = { ok: 0, results: [] };
for (const result of results) {
  if (result.status === "ok") {
    report.ok += 1;
    report.results.push({ id: result.id, name: result.name, status: "ok" });
  } else {
    // the body tells why; read it once here, where the Response still exists
    let body = "";
    try {
      body = (await result.response.text()).slice(0, 500);
    } catch {
      body = "(body already read)";
    }
    report.results.push({
      id: result.id,
      name: result.name,
      status: result.status,
      reason: result.reason,
      httpStatus: result.response.status,
      contentType: result.response.headers.get("content-type"),
      body,
    });
  }
}
console.log(JSON.stringify(report));
