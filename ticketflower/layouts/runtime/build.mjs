// Builds the layout runtime into the layouts app's static files:
//   frame.js  - React, the bridge and the kit, for the sandbox frame
//   frame.css - the kit's stylesheet, for the sandbox frame
//   host.js   - the app page's side of the bridge
// and, for the server, outside the static files:
//   dist/render.js - React's server renderer and the kit, for render-check.mjs
import { readFileSync } from "node:fs";
import { relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const here = fileURLToPath(new URL(".", import.meta.url));
const outdir = fileURLToPath(new URL("../static/layouts/", import.meta.url));
const FRAME_GZIP_BUDGET = 100 * 1024;

const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: [
    { in: "src/frame.tsx", out: "frame" },
    { in: "src/frame.css", out: "frame" },
    { in: "src/host.ts", out: "host" },
  ],
  outdir,
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  jsx: "automatic",
  define: { "process.env.NODE_ENV": '"production"' },
  metafile: true,
  logLevel: "warning",
});

let overBudget = false;
for (const output of Object.keys(result.metafile.outputs).sort()) {
  const path = resolve(here, output);
  const bytes = readFileSync(path);
  const gzip = gzipSync(bytes, { level: 9 }).length;
  console.log(`${relative(here, path).padEnd(28)} ${kB(bytes.length).padStart(9)}  ${kB(gzip).padStart(9)} gzip`);
  if (path.endsWith("frame.js") && gzip > FRAME_GZIP_BUDGET) overBudget = true;
}
if (overBudget) {
  console.error(`frame.js is over its budget of ${kB(FRAME_GZIP_BUDGET)} gzip.`);
  process.exit(1);
}

// The render check runs this in a bare V8 context (no window, no Node): one self-contained
// script that defines what it offers on globalThis.
const render = await esbuild.build({
  absWorkingDir: here,
  entryPoints: ["src/render.tsx"],
  outfile: "dist/render.js",
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2020",
  jsx: "automatic",
  // renderToString alone: react-dom/server.browser also loads the streaming renderer, which
  // needs MessageChannel and TextEncoder as it loads. Not a public entry of react-dom, hence the
  // alias. React's development builds: their errors say what is wrong ("Objects are not valid
  // as a React child (found: object with keys {a})") where production's give a number; they
  // throw for the same mistakes, and their warnings go to a console that prints nothing.
  alias: { "react-dom/server-legacy": "./node_modules/react-dom/cjs/react-dom-server-legacy.browser.development.js" },
  define: { "process.env.NODE_ENV": '"development"' },
  metafile: true,
  logLevel: "warning",
});
for (const output of Object.keys(render.metafile.outputs)) {
  const bytes = readFileSync(resolve(here, output)).length;
  console.log(`${output.padEnd(28)} ${kB(bytes).padStart(9)}`);
}

function kB(bytes) {
  return `${(bytes / 1024).toFixed(1)} kB`;
}
