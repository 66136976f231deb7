// The console's entry: a hash route (#/, #/reseller/<id>, #/organization/<id>) with the range in
// its query, rendered into <main>; a key prompt when the server answers 401.
import { KeyRequired, storeKey } from "./api";
import { h } from "./dom";
import { rangePicker } from "./picker";
import { type RangeChoice, rangeFrom, rangeParams } from "./range";
import { organizationView, resellerView, resellersView } from "./views";

const main = document.getElementById("view") as HTMLElement;
const controls = document.getElementById("controls") as HTMLElement;
let firstRender = true;
let generation = 0;

function route(): { path: string; params: URLSearchParams } {
  const [path = "/", query = ""] = window.location.hash.replace(/^#/, "").split("?");
  return { path: path || "/", params: new URLSearchParams(query) };
}

function go(path: string, range: RangeChoice, extra: Record<string, string> = {}): void {
  const params = rangeParams(range);
  for (const [k, v] of Object.entries(extra)) if (v) params.set(k, v);
  window.location.hash = `${path}?${params.toString()}`;
}

function keyPrompt(retry: () => void): HTMLElement {
  const input = h("input", { type: "password", id: "api-key", autocomplete: "off", required: "" });
  const form = h(
    "form",
    { class: "key-prompt", "aria-label": "Enter an API key" },
    h("p", {}, "This server needs an API key."),
    h("label", { for: "api-key" }, "API key"),
    input,
    h("button", { type: "submit" }, "Use key"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    storeKey(input.value.trim());
    retry();
  });
  return form;
}

async function render(): Promise<void> {
  const mine = ++generation;
  const { path, params } = route();
  const range = rangeFrom(params);
  const search = params.get("q") ?? "";
  controls.replaceChildren(rangePicker(range, (next) => go(path, next, { q: search })));
  main.setAttribute("aria-busy", "true");
  let view: HTMLElement;
  try {
    const [, kind, id = ""] = path.split("/");
    if (kind === "reseller") view = await resellerView(decodeURIComponent(id), range);
    else if (kind === "organization") view = await organizationView(decodeURIComponent(id), range);
    else view = await resellersView(range, search || null);
  } catch (error) {
    view =
      error instanceof KeyRequired
        ? keyPrompt(() => void render())
        : h("div", { class: "error-box", role: "alert" }, `Could not load: ${String(error)}`);
  }
  if (mine !== generation) return; // a newer route replaced this one while it loaded
  main.replaceChildren(view);
  main.setAttribute("aria-busy", "false");
  if (firstRender && main.querySelector("table")) {
    firstRender = false;
    // the browser test reads this mark: time from navigation to the first table on screen
    performance.mark("console:first-table");
  }
}

window.addEventListener("hashchange", () => void render());
void render();
