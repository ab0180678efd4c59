// The server-side render check (render-check.mjs, docs/layouts.md): React, the kit and
// `require` for a layout, in a V8 context with nothing of the host in it. The check runs this
// script, then the compiled layout, then `TicketFlowerRender(propsJson)`.
//
// It renders as the frame does (frame.tsx: the same modules, props and FormContext shape) but
// once, to a string: effects, event handlers and the bridge never run, and actions are no-ops.
// Only `renderToString` of React's legacy server build is bundled: unlike the streaming
// renderers it needs no host API (no TextEncoder, MessageChannel or timers).
import type { ComponentType } from "react";
import { renderToString } from "react-dom/server-legacy";
import { FormContext, type FormApi, type Mode } from "./form-context";
import { layoutModules, unknownModuleError } from "./layout-modules";
import { asObject, deepFreeze } from "./plain-data";

const MAX_ERROR_LENGTH = 300;

type Result = { ok: true; html_length: number } | { ok: false; error: string };

const root = globalThis as any;

root.require = function require(name: string) {
  if (!layoutModules.has(name)) throw unknownModuleError(name);
  return layoutModules.get(name);
};

root.TicketFlowerRender = function TicketFlowerRender(propsJson: string): string {
  let result: Result;
  try {
    result = render(JSON.parse(propsJson));
  } catch (error) {
    result = { ok: false, error: describeError(error) };
  }
  return JSON.stringify(result);
};

// What the check reports for anything the layout threw. Called inside this context (and under
// the check's timeout) because a thrown value may be a proxy or have getters: its code must
// never run in the host's realm.
root.TicketFlowerDescribeError = describeError;

function describeError(error: unknown): string {
  let message: string;
  try {
    message = error instanceof Error ? String(error.message) : String(error);
  } catch {
    message = "";
  }
  return (message || "The layout raised an error.").slice(0, MAX_ERROR_LENGTH);
}

function render(props: any): Result {
  const Layout = root.TicketFlowerLayout?.default;
  // The frame's test and message (frame.tsx, boot()).
  if (typeof Layout !== "function") return { ok: false, error: "The layout has no default export." };
  const LayoutComponent = Layout as ComponentType<any>;
  const mode: Mode = props?.mode === "display" ? "display" : "edit";
  const fields = deepFreeze(Array.isArray(props?.fields) ? props.fields : []);
  const values = asObject(props?.values);
  const errors = asObject(props?.errors);
  const context = deepFreeze(asObject(props?.context));
  const noop = () => {};
  const api: FormApi = {
    mode, fields, values, errors, context,
    setValue: noop, setValues: noop, submit: noop, upload: noop,
    files: { ...asObject(context.files) },
    uploading: {},
  };
  const html = renderToString(
    <FormContext.Provider value={api}>
      <LayoutComponent
        mode={mode}
        fields={fields}
        values={values}
        errors={errors}
        context={context}
        onChange={noop}
        onSubmit={noop}
      />
    </FormContext.Provider>,
  );
  // renderToString swallows an error inside a <Suspense> boundary (or a boundary still waiting)
  // and marks the boundary for the browser to render instead, where it would fail or wait again.
  if (html.includes("<!--$!-->")) {
    return { ok: false, error: "A part of the layout inside <Suspense> failed to render or never finished." };
  }
  return { ok: true, html_length: html.length };
}
