// The generated client paging organizations by cost against a running usagegraph (make
// test-clients): src/usage.ts compiled by tsc into <compiled dir>, then its
// topOrganizationsByCost run for <pages> pages.
//
//   node paging-check.mjs <compiled dir> <graphql url> <firstDay> <lastDay> <pages>
//
// Prints one JSON line: the pages as the client returned them.
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const [compiled, url, firstDay, lastDay, pages] = process.argv.slice(2);
const usage = await import(pathToFileURL(join(compiled, "usage.js")).href);
const result = await usage.topOrganizationsByCost(url, firstDay, lastDay, Number(pages));
console.log(JSON.stringify({ pages: result }));
