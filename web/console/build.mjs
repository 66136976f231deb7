// Bundles the console for usagegraph to serve (usagegraph/console.py's ASSETS): one minified
// script and one stylesheet in usagegraph/static/console/, no source maps, no CDN.
import { copyFile, mkdir } from "node:fs/promises";
import { build } from "esbuild";

const out = new URL("../../usagegraph/static/console/", import.meta.url).pathname;
await mkdir(out, { recursive: true });
await build({
  entryPoints: ["src/main.ts"],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  outfile: `${out}console.js`,
  legalComments: "none",
  logLevel: "warning",
});
await copyFile("src/console.css", `${out}console.css`);
