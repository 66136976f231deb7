// Drives the usage console (/console) in headless chromium the way a person would, for
// test_console_browser.py.
//
// usage: node drive_console.mjs SPEC_JSON
//   SPEC_JSON: {"url": ".../console#/?first=...&last=...", "executable": "/usr/bin/chromium",
//               "screenshots": "/tmp/dir", "reseller": "Northwind Channel",
//               "organization": "Acme Solar", "filter": "north",
//               "partialDays": ["2026-10-01", "2026-10-10"],
//               "sandbox": "http://127.0.0.1:N" (its /_control API), "outageMonth": "2026-09",
//               "outageVariant": "teli-down", "keyUrl": a console URL on a server with [auth],
//               "key": its API key}
// Steps: the resellers view (timing of the first table, its rows, the cost chart, axe-core), the
// reseller, the organization's drill-down (its tables, charts, axe-core, a CSV export), a
// partial-month range, then the vendor outage switched on in the sandbox and another month
// picked. Prints one JSON report on stdout; the Python test makes the assertions.
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const spec = JSON.parse(process.argv[2]);
const require = createRequire(import.meta.url);
const AXE = require.resolve("axe-core/axe.min.js");
const report = {
  firstTableMs: null,
  resellers: [],
  resellerChartPixels: 0,
  organizations: [],
  drill: null,
  partial: null,
  outage: null,
  axe: {},
  csv: null,
  keyed: null,
  filtered: null,
  expanded: null,
  screenshots: [],
  requests: [],
  failed: [],
  pageErrors: [],
  consoleErrors: [],
  error: null,
};

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

// Each table's rows as the cells read on screen (header cell first).
function tableRows(caption) {
  const table = document.querySelector(`table[data-table="${caption}"]`);
  if (!table) return null;
  return Array.from(table.tBodies[0].rows).map((row) =>
    Array.from(row.cells).map((cell) => cell.innerText.trim()),
  );
}

// How many pixels of a chart's canvas are drawn (not transparent).
function drawnPixels(title) {
  const canvas = document.querySelector(`figure[data-chart="${title}"] canvas`);
  if (!canvas || canvas.width === 0) return 0;
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  let drawn = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) drawn += 1;
  return drawn;
}

async function axe(page, name) {
  if (!(await page.evaluate(() => "axe" in window))) {
    // injected from the file: no request leaves the page for it
    await page.addScriptTag({ content: await readFile(AXE, "utf8") });
  }
  const result = await page.evaluate(async () => {
    const run = await window.axe.run(document, { resultTypes: ["violations"] });
    return run.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
    }));
  });
  report.axe[name] = result;
}

async function shot(page, name) {
  const path = `${spec.screenshots}/${name}.png`;
  await page.screenshot({ path, fullPage: true });
  report.screenshots.push(path);
}

async function control(path, body) {
  const response = await fetch(`${spec.sandbox}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`sandbox ${path}: ${response.status} ${await response.text()}`);
}

const browser = await chromium.launch({ executablePath: spec.executable, headless: true, args });
let page = null;
try {
  const context = await browser.newContext({
    viewport: { width: 1400, height: 1000 },
    acceptDownloads: true,
  });
  context.on("request", (request) => report.requests.push(request.url()));
  context.on("requestfailed", (request) =>
    report.failed.push(`${request.url()} ${request.failure()?.errorText ?? ""}`),
  );
  page = await context.newPage();
  page.on("pageerror", (error) => report.pageErrors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error") report.consoleErrors.push(message.text());
  });

  // 1. resellers for a month
  await page.goto(spec.url, { waitUntil: "load", timeout: 30_000 });
  await page.locator('table[data-table="Resellers"]').waitFor({ timeout: 30_000 });
  report.firstTableMs = await page.evaluate(
    () => performance.getEntriesByName("console:first-table")[0]?.startTime ?? null,
  );
  report.resellers = await page.evaluate(tableRows, "Resellers");
  report.resellerChartPixels = await page.evaluate(drawnPixels, "Cost per currency by reseller");
  await axe(page, "resellers");
  await shot(page, "console-resellers");

  // the list filtered by name on the server (filter: {nameContains})
  await page.locator("#name-filter").fill(spec.filter);
  await page.getByRole("button", { name: "Filter" }).click();
  await page.waitForFunction((q) => window.location.hash.includes(`q=${q}`), spec.filter);
  await page.locator('#view[aria-busy="false"]').waitFor({ timeout: 30_000 });
  report.filtered = (await page.evaluate(tableRows, "Resellers")).map((row) => row[0]);

  // 2. one reseller, then an organization's drill-down
  await page.getByRole("link", { name: spec.reseller, exact: true }).click();
  await page.locator('table[data-table="Organizations"]').waitFor({ timeout: 30_000 });
  report.organizations = await page.evaluate(tableRows, "Organizations");
  await page.getByRole("link", { name: spec.organization, exact: true }).click();
  await page.locator('table[data-table="Usage by source"]').waitFor({ timeout: 30_000 });
  report.drill = {
    heading: await page.locator("main h2").first().innerText(),
    bySource: await page.evaluate(tableRows, "Usage by source"),
    agents: await page.evaluate(tableRows, "Top agents by voice minutes"),
    users: await page.locator('table[data-table^="Users"] tbody tr').count(),
    monthlyPixels: await page.evaluate(drawnPixels, "Voice minutes by month and source"),
    agentsPixels: await page.evaluate(drawnPixels, "Top agents"),
    hash: await page.evaluate(() => window.location.hash),
  };
  await axe(page, "organization");
  await shot(page, "console-organization");

  // 3. CSV export of the agents table
  const download = page.waitForEvent("download", { timeout: 30_000 });
  await page.getByRole("button", { name: "Export CSV: Top agents by voice minutes" }).click();
  const file = await download;
  report.csv = { name: file.suggestedFilename(), text: await readFile(await file.path(), "utf8") };

  // 4. a partial-month range through the days picker
  const [first, last] = spec.partialDays;
  await page.locator("#range-first").fill(first);
  await page.locator("#range-last").fill(last);
  await page.getByRole("button", { name: "Show days" }).click();
  await page.locator("#range-shown", { hasText: `${first} to ${last}` }).waitFor();
  // the picker re-renders at once, the view when the new answer is in
  await page.locator('#view[aria-busy="false"]').waitFor({ timeout: 30_000 });
  report.partial = {
    hash: await page.evaluate(() => window.location.hash),
    bySource: await page.evaluate(tableRows, "Usage by source"),
  };

  // the same days with whole months counted for a monthly-only source
  await page.locator("#range-whole-months").check();
  await page.getByRole("button", { name: "Show days" }).click();
  await page.waitForFunction(() => window.location.hash.includes("partial=WHOLE_MONTHS"));
  await page.locator('#view[aria-busy="false"]').waitFor({ timeout: 30_000 });
  report.expanded = await page.evaluate(tableRows, "Usage by source");

  // 5. a vendor outage injected in the sandbox, then a month nobody has asked for yet
  await control("/_control/variants", { enable: [spec.outageVariant] });
  await page.getByRole("link", { name: "All resellers" }).first().click();
  await page.locator('table[data-table="Resellers"]').waitFor({ timeout: 30_000 });
  await page.locator("#range-month").fill(spec.outageMonth);
  await page.getByRole("button", { name: "Show month" }).click();
  await page.locator("#range-shown", { hasText: `${spec.outageMonth}-01 to` }).waitFor();
  await page.locator('#view[aria-busy="false"]').waitFor({ timeout: 60_000 });
  report.outage = {
    resellers: await page.evaluate(tableRows, "Resellers"),
    errorSources: await page.evaluate(() =>
      Array.from(document.querySelectorAll("[data-error-source]")).map((e) =>
        e.getAttribute("data-error-source"),
      ),
    ),
    alerts: await page.evaluate(() =>
      Array.from(document.querySelectorAll('[role="alert"]')).map((e) => e.textContent),
    ),
  };
  await shot(page, "console-outage");
  await control("/_control/variants", { disable: [spec.outageVariant] });

  // 6. a server with [auth]: the 401 turns into a key prompt, the key into a Bearer header
  if (spec.keyUrl) {
    const keyed = await context.newPage();
    const sent = [];
    keyed.on("request", (request) => {
      if (request.method() === "POST" && new URL(request.url()).pathname === "/graphql") {
        sent.push(request.headers().authorization ?? null);
      }
    });
    keyed.on("pageerror", (error) => report.pageErrors.push(String(error)));
    await keyed.goto(spec.keyUrl, { waitUntil: "load", timeout: 30_000 });
    await keyed.locator("#api-key").waitFor({ timeout: 30_000 });
    const prompt = await keyed.locator("main").innerText();
    await keyed.getByLabel("API key", { exact: true }).fill(spec.key);
    await keyed.getByRole("button", { name: "Use key" }).click();
    await keyed.locator('table[data-table="Resellers"]').waitFor({ timeout: 30_000 });
    report.keyed = {
      prompt,
      sent,
      stored: await keyed.evaluate(() => sessionStorage.getItem("usagegraph.console.apiKey")),
      resellers: (await keyed.evaluate(tableRows, "Resellers")).map((row) => row[0]),
    };
    await axe(keyed, "keyed");
    await keyed.close();
  }
} catch (error) {
  report.error = String(error && error.stack ? error.stack : error);
  if (page) await shot(page, "console-failure").catch(() => {});
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(report) + "\n");
