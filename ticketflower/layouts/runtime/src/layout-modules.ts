// The modules a compiled layout may `require()`: the same three in the frame and in the
// server-side render check, so a layout that passes the check imports what the frame has.
import React from "react";
import * as jsxRuntime from "react/jsx-runtime";
import * as kit from "./kit";

export const layoutModules = new Map<string, unknown>([
  ["react", React],
  ["react/jsx-runtime", jsxRuntime],
  ["@ticketflower/kit", kit],
]);

export function unknownModuleError(name: string): Error {
  return new Error(`Layouts may import only react and @ticketflower/kit: "${name}"`);
}
