// Drives GraphiQL in headless chromium the way a person would, for test_graphiql_browser.py.
//
// usage: node drive_graphiql.mjs SPEC_JSON
//   SPEC_JSON: {"url": ".../graphql", "queries": ["{ ... }", ...], "executable": "/usr/bin/chromium",
//               "screenshot": "/tmp/x.png" (optional, written after the last query or on failure)}
// For each query it selects everything in the query editor, pastes the query (insertText, like a
// paste: no auto-closed brackets), clicks the run button, waits for the server's answer to that
// query and then for the result pane to show it.
// Prints one JSON report on stdout: {runs: [{query, sent, result, visible}], explorer (the lines
// of the explorer plugin's pane), requests, failed, pageErrors, consoleErrors, error}; the Python
// test makes the assertions.
import { chromium } from "playwright-core";

const spec = JSON.parse(process.argv[2]);
const report = {
  runs: [],
  explorer: [],
  requests: [],
  failed: [],
  pageErrors: [],
  consoleErrors: [],
  error: null,
};

// The flags a sandboxed CI container needs, and none that lets chromium phone home.
const args = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

const RESPONSE = ".graphiql-response .CodeMirror";
const QUERY = ".graphiql-query-editor .CodeMirror";

// The result pane's whole text: CodeMirror renders only the lines in view, so ask the editor.
function responseValue() {
  const element = document.querySelector(".graphiql-response .CodeMirror");
  return element && element.CodeMirror ? element.CodeMirror.getValue() : null;
}

// Whitespace-insensitive, in case the editor re-indents pasted lines.
function squeeze(text) {
  return String(text).split(/\s+/).join(" ").trim();
}

function sentQuery(request) {
  try {
    return JSON.parse(request.postData() ?? "").query;
  } catch {
    return null;
  }
}

const browser = await chromium.launch({ executablePath: spec.executable, headless: true, args });
let page = null;
try {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  context.on("request", (request) => report.requests.push(request.url()));
  context.on("requestfailed", (request) =>
    report.failed.push(`${request.url()} ${request.failure()?.errorText ?? ""}`),
  );
  page = await context.newPage();
  page.on("pageerror", (error) => report.pageErrors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error") report.consoleErrors.push(message.text());
  });

  await page.goto(spec.url, { waitUntil: "load", timeout: 30_000 });
  await page.locator(QUERY).waitFor({ state: "visible", timeout: 30_000 });
  // The explorer plugin's root fields, top to bottom, as a person opening it sees them.
  await page.locator('[aria-label$="GraphiQL Explorer"]').first().click();
  const explorer = page.locator(".graphiql-explorer-root");
  await explorer.getByText("resellers", { exact: true }).first().waitFor({ timeout: 30_000 });
  report.explorer = (await explorer.innerText()).split("\n").map((line) => line.trim());
  for (const query of spec.queries) {
    await page.locator(QUERY).click();
    await page.keyboard.press("ControlOrMeta+A");
    await page.keyboard.press("Delete");
    await page.keyboard.insertText(query);
    // The answer to this very query (GraphiQL also POSTs its introspection query).
    const answer = page.waitForResponse(
      (response) =>
        response.request().method() === "POST" &&
        response.url() === spec.url &&
        squeeze(sentQuery(response.request())) === squeeze(query),
      { timeout: 30_000 },
    );
    await page.locator(".graphiql-execute-button").click();
    const response = await answer;
    const body = await response.json();
    // Then wait until the pane shows it (React renders it a moment after the response).
    await page.waitForFunction(
      (expected) => {
        const element = document.querySelector(".graphiql-response .CodeMirror");
        try {
          return JSON.stringify(JSON.parse(element.CodeMirror.getValue())) === expected;
        } catch {
          return false;
        }
      },
      JSON.stringify(body),
      { timeout: 30_000 },
    );
    report.runs.push({
      query,
      sent: sentQuery(response.request()),
      result: await page.evaluate(responseValue),
      visible: await page.locator(RESPONSE).innerText(),
    });
  }
} catch (error) {
  report.error = String(error && error.stack ? error.stack : error);
} finally {
  if (page && spec.screenshot) {
    await page.screenshot({ path: spec.screenshot }).catch(() => {});
  }
  await browser.close();
}
process.stdout.write(JSON.stringify(report) + "\n");
