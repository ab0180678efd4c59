// The runtime inside the sandbox frame. Loaded before the layout module, it provides
// `require` for it, waits for the parent's hello (which carries the MessagePort all further
// traffic uses), then renders the layout when the parent sends its props.
//
// Nothing here is trusted by the parent: the frame and the layout share one realm, so the
// host validates every message. The checks below are for reporting errors well, not safety.
import { Component, useSyncExternalStore, type ComponentType, type ReactNode } from "react";
import { createRoot, type Root } from "react-dom/client";
import {
  FormContext, type Errors, type FieldSpec, type FileInfo, type FormApi, type LayoutContext, type Mode, type Values,
} from "./form-context";
import { layoutModules, unknownModuleError } from "./layout-modules";
import { asObject, deepFreeze } from "./plain-data";

const MAX_ERROR_LENGTH = 300;

// ---------------------------------------------------------------------------------------
// Modules for the layout

(window as any).require = function require(name: string) {
  if (!layoutModules.has(name)) {
    const error = unknownModuleError(name);
    // Reported from here because the browser shows the layout script's own uncaught errors
    // only as "Script error." (the frame's origin is opaque, so every script is cross-origin).
    postError(error);
    throw error;
  }
  return layoutModules.get(name);
};

// ---------------------------------------------------------------------------------------
// The channel to the parent

let port: MessagePort | null = null;
// Errors raised before the parent said hello (a layout that fails while loading) wait here.
const earlyErrors: string[] = [];

function send(message: object, transfer: Transferable[] = []) {
  port?.postMessage(message, transfer);
}

function postError(error: unknown) {
  const raw = error instanceof Error ? error.message : String(error);
  const message = (raw || "Unknown error").slice(0, MAX_ERROR_LENGTH);
  if (port) send({ type: "error", message });
  else earlyErrors.push(message);
}

function onHello(event: MessageEvent) {
  const data = event.data;
  if (event.source !== window.parent || data?.type !== "tf-hello" || typeof data.nonce !== "string") return;
  if (!event.ports[0]) return;
  window.removeEventListener("message", onHello);
  port = event.ports[0];
  port.onmessage = (message) => onParentMessage(message.data);
  send({ type: "ready", nonce: data.nonce });
  earlyErrors.splice(0).forEach((message) => send({ type: "error", message }));
}

function onParentMessage(message: any) {
  switch (message?.type) {
    case "render": return render(message.props);
    case "update": return store.set({ values: asObject(message.values) });
    case "setErrors": return store.set({ errors: asObject(message.errors) as Errors });
    case "requestSubmit": return submit();
    case "ping": return send({ type: "pong", id: message.id });
    case "uploaded": return uploaded(message.field, message.file);
    case "uploadFailed": return uploadFailed(message.field, message.message);
  }
}

window.addEventListener("message", onHello);
window.addEventListener("error", (event) => {
  // Without event.error the browser muted the details (a script loaded without crossorigin).
  postError(event.error ?? "The layout raised an error.");
});
window.addEventListener("unhandledrejection", (event) => postError(event.reason));

// ---------------------------------------------------------------------------------------
// Form state. Kept outside React so that messages arriving before the first commit (render
// immediately followed by update, say) are never lost.

interface FrameState {
  mode: Mode;
  fields: readonly FieldSpec[];
  values: Values;
  errors: Errors;
  context: LayoutContext;
  uploadedFiles: Record<string, FileInfo>;
  uploading: Record<string, string>;
}

function createStore(initial: FrameState) {
  let state = initial;
  const listeners = new Set<() => void>();
  return {
    get: () => state,
    set(patch: Partial<FrameState>) {
      state = { ...state, ...patch };
      listeners.forEach((listener) => listener());
    },
    subscribe(listener: () => void) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

const store = createStore({
  mode: "edit", fields: [], values: {}, errors: {}, context: {}, uploadedFiles: {}, uploading: {},
});

// ---------------------------------------------------------------------------------------
// Actions (also what the layout's onChange/onSubmit and the kit's hooks call)

function setValues(values: Values) {
  if (!values || typeof values !== "object" || Array.isArray(values)) {
    throw new TypeError("onChange expects an object of field values.");
  }
  // The parent only takes JSON: drop what JSON would drop (undefined, functions) right here
  // so the frame shows the same values the parent stores.
  const clean = JSON.parse(JSON.stringify(values));
  store.set({ values: clean });
  send({ type: "change", values: clean });
}

function setValue(name: string, value: unknown) {
  const values = { ...store.get().values };
  if (value === undefined || value === "") delete values[name];
  else values[name] = value;
  setValues(values);
}

function submit() {
  send({ type: "submit", values: store.get().values });
}

function upload(field: string, file: File) {
  const { errors, uploading } = store.get();
  store.set({ uploading: { ...uploading, [field]: file.name }, errors: { ...errors, [field]: [] } });
  file.arrayBuffer().then(
    (data) => send({ type: "upload", field, name: file.name, mime: file.type, size: file.size, data }, [data]),
    () => uploadFailed(field, "The file could not be read."),
  );
}

function uploaded(field: unknown, file: any) {
  if (typeof field !== "string" || !file || file.id === undefined) return;
  const { uploading, uploadedFiles } = store.get();
  const { [field]: _, ...stillUploading } = uploading;
  store.set({
    uploading: stillUploading,
    uploadedFiles: { ...uploadedFiles, [String(file.id)]: { name: String(file.name), size: file.size } },
  });
  setValue(field, file.id);
}

function uploadFailed(field: unknown, message: unknown) {
  if (typeof field !== "string") return;
  const { uploading, errors } = store.get();
  const { [field]: _, ...stillUploading } = uploading;
  store.set({
    uploading: stillUploading,
    errors: { ...errors, [field]: [String(message || "The file could not be uploaded.")] },
  });
}

// ---------------------------------------------------------------------------------------
// Rendering

interface LayoutProps {
  mode: Mode;
  fields: readonly FieldSpec[];
  values: Values;
  errors: Errors;
  context: LayoutContext;
  onChange(values: Values): void;
  onSubmit(): void;
}

let Layout: ComponentType<LayoutProps> | null = null;
let root: Root | null = null;

function render(props: any) {
  if (!Layout) return; // boot() has already reported why
  const { fields, context } = asObject(props);
  store.set({
    mode: props?.mode === "display" ? "display" : "edit",
    fields: deepFreeze(Array.isArray(fields) ? fields : []),
    values: asObject(props?.values),
    errors: asObject(props?.errors),
    context: deepFreeze(asObject(context)),
  });
  if (!root) {
    root = createRoot(document.getElementById("root")!);
    root.render(<LayoutRoot />);
    watchHeight();
  }
}

function LayoutRoot() {
  const state = useSyncExternalStore(store.subscribe, store.get);
  const { mode, fields, values, errors, context } = state;
  const api: FormApi = {
    mode, fields, values, errors, context, setValue, setValues, submit, upload,
    files: { ...asObject(context.files), ...state.uploadedFiles },
    uploading: state.uploading,
  };
  const LayoutComponent = Layout!;
  return (
    <FormContext.Provider value={api}>
      <ErrorBoundary>
        <LayoutComponent
          mode={mode}
          fields={fields}
          values={values}
          errors={errors}
          context={context}
          onChange={setValues}
          onSubmit={submit}
        />
      </ErrorBoundary>
    </FormContext.Provider>
  );
}

class ErrorBoundary extends Component<{ children: ReactNode }, { failed: boolean }> {
  state = { failed: false };

  static getDerivedStateFromError() {
    return { failed: true };
  }

  componentDidCatch(error: unknown) {
    postError(error);
  }

  render() {
    // The parent tears the frame down on the error report; this is only what shows meanwhile.
    return this.state.failed ? <p className="tf-notice">This layout failed.</p> : this.props.children;
  }
}

// Reports the content height (not scrollHeight, which never drops below the frame's current
// height, so the frame could grow but never shrink).
function watchHeight() {
  let lastHeight = -1;
  let scheduled = false;
  const measure = () => {
    scheduled = false;
    const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height !== lastHeight) {
      lastHeight = height;
      send({ type: "resize", height });
    }
  };
  new ResizeObserver(() => {
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(measure);
    }
  }).observe(document.documentElement);
}

// ---------------------------------------------------------------------------------------
// Boot: by DOMContentLoaded the layout module (the next script) has run.

function boot() {
  const candidate = (window as any).TicketFlowerLayout?.default;
  if (typeof candidate === "function") Layout = candidate;
  else postError("The layout has no default export.");
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
else boot();
