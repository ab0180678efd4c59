// The server-side render check (ticketflower/layouts/render.py runs it; docs/layouts.md).
//
// stdin:  {"items": [{"code": "<compiled layout>", "props": {...}}, ...]}
// stdout: {"results": [{"ok": true} | {"ok": false, "error": "..."}, ...]}, one result a line,
//         written as each item finishes: if a layout brings the whole process down (V8's heap
//         limit is fatal), the lines already written say which item did it.
//
// Each item runs in a fresh V8 context holding nothing of this realm: dist/render.js, then the
// layout's code, then TicketFlowerRender(props), all within one deadline.
//
// node:vm is NOT a security boundary by itself (one leaked host object, e.g. an error Node
// creates, and `x.constructor.constructor("return process")()` is out). The context below
// closes the leaks known to us, and render.py adds the second wall: Node's permission model
// (no file writes, no child processes, no workers; reads of this directory only), a heap cap,
// process limits, an environment of only PATH and a wall-clock deadline.
import { readFileSync, writeSync } from "node:fs";
import { types } from "node:util";
import vm from "node:vm";

const ITEM_TIMEOUT_MS = 2000;
const MAX_ERROR_LENGTH = 300;
const TIMEOUT_MESSAGE = "The layout took longer than 2 s to render.";
const UNKNOWN_ERROR = "The layout raised an error.";
// Prototypes of the errors Node itself throws from a vm call (see describe()).
const HOST_ERRORS = new Set(
  [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError].map((type) => type.prototype),
);

// The isolation leans on these (render.py passes them): refuse to run without.
if (!process.permission || !process.execArgv.includes("--experimental-vm-modules")) {
  console.error("render-check.mjs runs only with Node's permission model and --experimental-vm-modules (render.py).");
  process.exit(2);
}

const scriptOptions = {
  // Without this Node rejects `import()` with an error of *this* realm, whose constructor
  // chain leads to `process`. A thrown primitive belongs to no realm. (Needs
  // --experimental-vm-modules: without the flag Node rejects with its own error again.)
  importModuleDynamically() {
    throw "Layouts cannot import modules while they run.";
  },
};
const runtime = new vm.Script(readFileSync(new URL("./dist/render.js", import.meta.url), "utf8"), {
  filename: "render.js",
  ...scriptOptions,
});

const input = JSON.parse(readFileSync(0, "utf8"));
const items = Array.isArray(input?.items) ? input.items : [];
writeOut('{"results": [\n');
items.forEach((item, index) => {
  writeOut(`${index ? "," : ""}${JSON.stringify(check(item))}\n`);
});
writeOut("]}\n");
// Exit now: nothing a layout queued (a FinalizationRegistry callback, say) may run after.
process.exit(0);

// Synchronous on every system (process.stdout is not, for a pipe on macOS): each line is out
// before the next item starts, and nothing is lost to process.exit().
function writeOut(text) {
  const bytes = Buffer.from(text);
  for (let written = 0; written < bytes.length; ) {
    try {
      written += writeSync(1, bytes, written);
    } catch (error) {
      if (error.code !== "EAGAIN") throw error;
    }
  }
}

function check(item) {
  const deadline = Date.now() + ITEM_TIMEOUT_MS;
  // A null-prototype global: `{}` would lend the context this realm's Object.prototype, and
  // `this.constructor.constructor` would be this realm's Function. No eval, no new Function and
  // no WebAssembly; microtasks run inside each evaluation, under its timeout.
  const context = vm.createContext(Object.create(null), {
    codeGeneration: { strings: false, wasm: false },
    microtaskMode: "afterEvaluate",
  });
  try {
    const layout = new vm.Script(String(item?.code ?? ""), { filename: "layout.js", ...scriptOptions });
    const call = new vm.Script(`TicketFlowerRender(${JSON.stringify(JSON.stringify(item?.props ?? {}))})`, {
      filename: "check.js",
      ...scriptOptions,
    });
    runtime.runInContext(context, { timeout: remaining(deadline) });
    layout.runInContext(context, { timeout: remaining(deadline) });
    const answer = call.runInContext(context, { timeout: remaining(deadline) });
    return parseAnswer(answer);
  } catch (error) {
    return { ok: false, error: describe(error, context) };
  }
}

function remaining(deadline) {
  return Math.max(1, deadline - Date.now());
}

function parseAnswer(answer) {
  // A string is a primitive: nothing of the layout's realm comes along with it.
  if (typeof answer !== "string") return { ok: false, error: UNKNOWN_ERROR };
  let parsed;
  try {
    parsed = JSON.parse(answer);
  } catch {
    return { ok: false, error: UNKNOWN_ERROR };
  }
  if (parsed?.ok === true) return { ok: true };
  return { ok: false, error: cap(typeof parsed?.error === "string" ? parsed.error : UNKNOWN_ERROR) };
}

function describe(error, context) {
  if (error === null || (typeof error !== "object" && typeof error !== "function")) {
    return cap(String(error) || UNKNOWN_ERROR); // a primitive runs no code
  }
  // Anything else may be the layout's: a proxy, getters or a toString of its own would run its
  // code here, outside every timeout, so such values are read inside their context. The tests
  // below run no layout code (isProxy, and the descriptor and prototype of an ordinary object).
  if (types.isProxy(error)) return describeInside(error, context);
  // The timeout's error is made by Node in the layout's context, its code an own data property.
  if (Object.getOwnPropertyDescriptor(error, "code")?.value === "ERR_SCRIPT_EXECUTION_TIMEOUT") {
    return TIMEOUT_MESSAGE;
  }
  // Node's errors of this realm (a script that does not parse): the layout never held them.
  if (HOST_ERRORS.has(Object.getPrototypeOf(error))) return cap(String(error.message) || UNKNOWN_ERROR);
  return describeInside(error, context);
}

function describeInside(error, context) {
  try {
    context.TicketFlowerThrown = error;
    const message = vm.runInContext("TicketFlowerDescribeError(TicketFlowerThrown)", context, {
      timeout: 200,
      ...scriptOptions,
    });
    return typeof message === "string" && message ? cap(message) : UNKNOWN_ERROR;
  } catch {
    return UNKNOWN_ERROR;
  }
}

function cap(message) {
  return message.slice(0, MAX_ERROR_LENGTH);
}
