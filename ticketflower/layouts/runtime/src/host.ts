// The app page's side of a layout: puts the sandbox frame in place of the server-rendered
// fallback, talks to it over a MessagePort, and falls back whenever anything goes wrong.
//
// Everything the frame sends is untrusted (a layout is arbitrary code): messages are size-
// and shape-checked, values are limited to the form's own fields, and a frame that stops
// answering is removed. Fallback-first: without JS, or on any failure, the plain form stays.

const READY_TIMEOUT_MS = 5000;
const PING_INTERVAL_MS = 2000;
const PONG_TIMEOUT_MS = 3000;
const SUBMIT_ANSWER_TIMEOUT_MS = 1500;
const MAX_MESSAGE_CHARS = 256 * 1024;
const MAX_BAD_MESSAGES = 50;
const MAX_STRING_VALUE = 100_000;
const MAX_LIST_VALUE = 1000;
const MIN_HEIGHT = 40;
const MAX_HEIGHT = 10_000;
const DEFAULT_UPLOAD_MAX = 10 * 1024 * 1024;
const MAX_PARALLEL_UPLOADS = 3;

const FRAME_MESSAGE_TYPES = new Set(["ready", "change", "submit", "resize", "error", "pong", "upload"]);

const FAILURE_NOTICE = {
  edit: "This form could not be shown, so the standard form is shown instead.",
  display: "This view could not be shown, so the plain view is shown instead.",
};

type State = "loading" | "ready" | "failed";
type Mode = "edit" | "display";
type Values = Record<string, unknown>;
type Message = Record<string, unknown>;

interface Props {
  mode: Mode;
  fields: { name: string; type: string }[];
  values: Values;
  errors: Record<string, string[]>;
  context: Record<string, unknown>;
}

class LayoutHost {
  state: State = "loading";
  values: Values = {};

  readonly element: HTMLElement;
  private mode: Mode = "edit";
  private props: Props | null = null;
  private fieldTypes = new Map<string, string>();
  private form: HTMLFormElement | null;
  private fallback: HTMLElement | null;
  private valuesInput: HTMLInputElement | null;
  private uploadUrl: string;
  private uploadMax: number;

  private iframe: HTMLIFrameElement | null = null;
  private loadingText: HTMLElement | null = null;
  private port: MessagePort | null = null;
  private nonce = randomHex(16);
  private loads = 0;
  private badMessages = 0;
  private uploadsInFlight = 0;

  private readyTimer = 0;
  private pingTimer = 0;
  private pongTimer = 0;
  private pingId = 0;

  // The enclosing form's submission while we wait for the frame's values.
  private pendingSubmit: { submitter: HTMLElement | null; timer: number } | null = null;
  private submittingForReal = false;
  private fallbackHidden = false;
  private fallbackDisplay = "";
  private disabledInFallback: HTMLInputElement[] = [];

  constructor(element: HTMLElement) {
    this.element = element;
    const data = element.dataset;
    // Only a layout that answers for a form (it has a values input) takes over its submission:
    // a display, or the design site's preview inside the admin's form, leaves the form alone.
    this.form = data.valuesInput ? element.closest("form") : null;
    this.fallback = data.fallback ? document.getElementById(data.fallback) : null;
    const input = data.valuesInput ? document.getElementById(data.valuesInput) : null;
    this.valuesInput = input instanceof HTMLInputElement ? input : null;
    this.uploadUrl = data.uploadUrl || "";
    const uploadMax = Number(data.uploadMax);
    this.uploadMax = Number.isFinite(uploadMax) && uploadMax > 0 ? uploadMax : DEFAULT_UPLOAD_MAX;
  }

  start() {
    this.setState("loading");
    const props = readProps(this.element.dataset.props);
    // Until the props say otherwise, a host with a values input is a form.
    this.mode = props?.mode ?? (this.valuesInput ? "edit" : "display");
    if (!props) return this.fail("The layout's data could not be read.");
    const frameUrl = absoluteHttpUrl(this.element.dataset.frameUrl);
    if (!frameUrl) return this.fail("The layout's address is missing.");

    this.props = props;
    this.fieldTypes = new Map(props.fields.map((field) => [field.name, field.type]));
    this.values = props.values;
    this.hideFallback();

    const channel = new MessageChannel();
    this.port = channel.port1;
    this.port.onmessage = (event) => this.onMessage(event.data);
    this.port.onmessageerror = () => this.countBadMessage();

    this.loadingText = document.createElement("p");
    this.loadingText.textContent = "Loading…";
    this.loadingText.dataset.testid = "layout-loading";
    Object.assign(this.loadingText.style, { margin: "8px 0", color: "#6b7280", fontSize: "13px" });

    const iframe = document.createElement("iframe");
    iframe.setAttribute("sandbox", "allow-scripts allow-forms");
    iframe.referrerPolicy = "no-referrer";
    iframe.title = this.element.dataset.title || "Form";
    // Hidden until ready; it still loads, and the hello goes out on its load event.
    Object.assign(iframe.style, { display: "none", width: "100%", height: "150px", border: "0" });
    iframe.addEventListener("load", () => this.onFrameLoad(channel.port2));
    iframe.src = frameUrl;
    this.iframe = iframe;

    // Capture phase, so the page's own submit handlers see only the final submission.
    if (this.mode === "edit") this.form?.addEventListener("submit", this.onFormSubmit, true);
    this.readyTimer = window.setTimeout(() => this.fail("The layout did not start in time."), READY_TIMEOUT_MS);
    this.element.append(this.loadingText, iframe);
  }

  // ---------------------------------------------------------------------------------------
  // The frame

  private onFrameLoad(port2: MessagePort) {
    this.loads += 1;
    // A second load means the frame navigated (or was navigated) away from our page.
    if (this.loads > 1) return this.fail("The layout left its page.");
    // The frame's origin is opaque, hence "*": only the port matters, and it goes to this window.
    this.iframe?.contentWindow?.postMessage({ type: "tf-hello", nonce: this.nonce }, "*", [port2]);
  }

  private post(message: Message) {
    this.port?.postMessage(message);
  }

  private onMessage(data: unknown) {
    if (this.state === "failed") return;
    if (!isAcceptable(data)) return this.countBadMessage();
    const message = data as Message;

    if (this.state === "loading") {
      if (message.type !== "ready") return this.countBadMessage();
      if (message.nonce !== this.nonce) return this.fail("The layout answered with the wrong key.");
      return this.onReady();
    }

    switch (message.type) {
      case "change": return this.onChange(message.values);
      case "submit": return this.onFrameSubmit(message.values);
      case "resize": return this.onResize(message.height);
      case "error": return this.fail(typeof message.message === "string" ? message.message.slice(0, 300) : "The layout failed.");
      case "pong": return this.onPong(message.id);
      case "upload": return void this.onUpload(message);
      default: return this.countBadMessage(); // a second "ready"
    }
  }

  private countBadMessage() {
    this.badMessages += 1;
    if (this.badMessages > MAX_BAD_MESSAGES) this.fail("The layout sent too many invalid messages.");
  }

  private onReady() {
    window.clearTimeout(this.readyTimer);
    this.setState("ready");
    this.loadingText?.remove();
    if (this.iframe) this.iframe.style.display = "block";
    this.post({ type: "render", props: this.props });
    this.writeValuesInput();
    this.pingTimer = window.setTimeout(this.sendPing, PING_INTERVAL_MS);
  }

  private onChange(raw: unknown) {
    const values = this.acceptValues(raw);
    if (!values) return;
    this.values = values;
    this.writeValuesInput();
  }

  private onResize(height: unknown) {
    if (typeof height !== "number" || !Number.isFinite(height)) return this.countBadMessage();
    const clamped = Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, Math.ceil(height)));
    if (this.iframe) this.iframe.style.height = `${clamped}px`;
  }

  /** Only the form's own fields, only in edit mode, only JSON a form field could hold. */
  private acceptValues(raw: unknown): Values | null {
    if (this.mode !== "edit") return null;
    if (!isPlainObject(raw)) {
      this.countBadMessage();
      return null;
    }
    const values: Values = {};
    for (const [name, value] of Object.entries(raw)) {
      if (this.fieldTypes.has(name) && isPlausibleValue(value)) values[name] = value;
    }
    return values;
  }

  private writeValuesInput() {
    if (this.valuesInput && this.mode === "edit") this.valuesInput.value = JSON.stringify(this.values);
  }

  // ---------------------------------------------------------------------------------------
  // Heartbeat: a frame stuck in a loop never answers, and must not stay on the page.

  private sendPing = () => {
    this.pingId += 1;
    this.post({ type: "ping", id: this.pingId });
    this.pongTimer = window.setTimeout(this.onPongMissing, PONG_TIMEOUT_MS);
  };

  private onPong(id: unknown) {
    if (id !== this.pingId || !this.pongTimer) return;
    window.clearTimeout(this.pongTimer);
    this.pongTimer = 0;
    this.pingTimer = window.setTimeout(this.sendPing, PING_INTERVAL_MS);
  }

  private onPongMissing = () => {
    // Background tabs run timers late and in bursts; judge the frame only while it is seen.
    if (document.hidden) {
      this.pongTimer = window.setTimeout(this.onPongMissing, PONG_TIMEOUT_MS);
      return;
    }
    this.fail("The layout stopped responding.");
  };

  // ---------------------------------------------------------------------------------------
  // Submitting the enclosing form

  // The page's own submit button: ask the frame for its latest values first.
  private onFormSubmit = (event: SubmitEvent) => {
    if (this.submittingForReal) return;
    if (this.state === "loading") {
      // Neither the layout nor the fallback is on screen: there is nothing to submit yet.
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    if (this.state !== "ready") return;
    event.preventDefault();
    event.stopImmediatePropagation();
    if (this.pendingSubmit) return;
    const submitter = event.submitter;
    const timer = window.setTimeout(() => this.submitForm(submitter), SUBMIT_ANSWER_TIMEOUT_MS);
    this.pendingSubmit = { submitter, timer };
    this.post({ type: "requestSubmit" });
  };

  private onFrameSubmit(raw: unknown) {
    const values = this.acceptValues(raw);
    if (!values) return;
    this.values = values;
    this.writeValuesInput();
    if (this.pendingSubmit) return this.submitForm(this.pendingSubmit.submitter);
    // The layout's own submit: only right after the person clicked or typed in it (their
    // activation reaches this page too), never by itself on load.
    if (!hasUserActivation()) return this.countBadMessage();
    this.submitForm(this.defaultSubmitter());
  }

  /** The page's button a layout's own submit stands for (the worker's "Complete"). */
  private defaultSubmitter(): HTMLElement | null {
    const value = this.element.dataset.defaultSubmit;
    if (!value || !this.form) return null;
    const buttons = this.form.querySelectorAll<HTMLButtonElement>("button[type=submit]");
    return Array.from(buttons).find((button) => button.value === value) ?? null;
  }

  private submitForm(submitter: HTMLElement | null) {
    if (this.pendingSubmit) window.clearTimeout(this.pendingSubmit.timer);
    this.pendingSubmit = null;
    if (!this.form || this.state !== "ready") return;
    this.writeValuesInput();
    // Keep the clicked button's name/value in the submission when it is still usable.
    const usable = submitter instanceof HTMLButtonElement || submitter instanceof HTMLInputElement;
    this.submittingForReal = true;
    try {
      if (usable && submitter.form === this.form && submitter.isConnected) this.form.requestSubmit(submitter);
      else this.form.requestSubmit();
    } finally {
      this.submittingForReal = false;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Uploads: the frame cannot reach the network, so it hands the file's bytes to us.

  private async onUpload(message: Message) {
    const { field, data } = message;
    if (typeof field !== "string" || !(data instanceof ArrayBuffer)) return this.countBadMessage();
    const refuse = (text: string) => this.post({ type: "uploadFailed", field, message: text });

    if (this.mode !== "edit" || this.fieldTypes.get(field) !== "file" || !this.uploadUrl) {
      return refuse("Files cannot be uploaded here.");
    }
    if (data.byteLength > this.uploadMax) return refuse(`The file is too large (at most ${formatBytes(this.uploadMax)}).`);
    if (this.uploadsInFlight >= MAX_PARALLEL_UPLOADS) return refuse("Please wait for the other uploads to finish.");

    const name = safeFileName(message.name);
    const body = new FormData();
    body.append("field", field);
    body.append("file", new Blob([data], { type: safeMimeType(message.mime) }), name);
    const csrf = this.form?.querySelector<HTMLInputElement>("input[name=csrfmiddlewaretoken]")?.value;

    this.uploadsInFlight += 1;
    try {
      const response = await fetch(this.uploadUrl, {
        method: "POST",
        body,
        credentials: "same-origin",
        headers: csrf ? { "X-CSRFToken": csrf } : {},
      });
      const payload = await response.json().catch(() => null);
      if (response.ok && Number.isInteger(payload?.id)) {
        const file = { id: payload.id, name: String(payload.name ?? name), size: Number(payload.size ?? data.byteLength) };
        this.post({ type: "uploaded", field, file });
      } else {
        refuse(typeof payload?.detail === "string" ? payload.detail : "The file could not be uploaded.");
      }
    } catch {
      refuse("The file could not be uploaded.");
    } finally {
      this.uploadsInFlight -= 1;
    }
  }

  // ---------------------------------------------------------------------------------------
  // State, fallback and failure

  private setState(state: State) {
    this.state = state;
    this.element.dataset.state = state;
  }

  private hideFallback() {
    if (!this.fallback) return;
    this.fallbackHidden = true;
    this.fallbackDisplay = this.fallback.style.display;
    this.fallback.style.display = "none";
    // A hidden `required` field would block the submission with nothing on screen to fix,
    // and its stale value would be posted: disable the visible kinds of control meanwhile.
    const controls = this.fallback.querySelectorAll<HTMLInputElement>("input:not([type=hidden]), select, textarea");
    for (const control of controls) {
      if (control === this.valuesInput || control.disabled) continue;
      control.disabled = true;
      this.disabledInFallback.push(control);
    }
  }

  private showFallback() {
    if (!this.fallback || !this.fallbackHidden) return;
    for (const control of this.disabledInFallback) control.disabled = false;
    this.disabledInFallback = [];
    this.fallback.style.display = this.fallbackDisplay;
    this.fallbackHidden = false;
  }

  /** Removed by the page (the design site replaces its preview): no notice, no fallback. */
  stop() {
    if (this.state === "failed") return;
    this.teardown();
  }

  fail(reason: string) {
    if (this.state === "failed") return;
    this.teardown();
    // An empty values input tells the server to read the standard form's fields instead.
    if (this.valuesInput) this.valuesInput.value = "";
    this.showFallback();
    const notice = this.fallback ? FAILURE_NOTICE[this.mode] : "This layout could not be shown.";
    this.element.prepend(failureNotice(notice, reason));
  }

  private teardown() {
    this.setState("failed");
    window.clearTimeout(this.readyTimer);
    window.clearTimeout(this.pingTimer);
    window.clearTimeout(this.pongTimer);
    if (this.pendingSubmit) window.clearTimeout(this.pendingSubmit.timer);
    this.pendingSubmit = null;
    this.form?.removeEventListener("submit", this.onFormSubmit, true);
    this.port?.close();
    this.port = null;
    this.iframe?.remove();
    this.iframe = null;
    this.loadingText?.remove();
  }
}

// ---------------------------------------------------------------------------------------
// Helpers

function readProps(id: string | undefined): Props | null {
  const script = id ? document.getElementById(id) : null;
  if (!script) return null;
  try {
    const props = JSON.parse(script.textContent || "");
    if (!isPlainObject(props)) return null;
    return {
      mode: props.mode === "display" ? "display" : "edit",
      fields: Array.isArray(props.fields) ? props.fields.filter(isPlainObject) as Props["fields"] : [],
      values: isPlainObject(props.values) ? props.values : {},
      errors: isPlainObject(props.errors) ? props.errors as Props["errors"] : {},
      context: isPlainObject(props.context) ? props.context : {},
    };
  } catch {
    return null;
  }
}

function absoluteHttpUrl(value: string | undefined): string | null {
  try {
    const url = new URL(value || "");
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

function hasUserActivation(): boolean {
  const activation = (navigator as Navigator & { userActivation?: { isActive: boolean } }).userActivation;
  return activation ? activation.isActive : true; // browsers without the API: no way to tell
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A plain object with a known type whose JSON fits the size cap (an upload's bytes aside). */
function isAcceptable(data: unknown): boolean {
  if (!isPlainObject(data) || typeof data.type !== "string" || !FRAME_MESSAGE_TYPES.has(data.type)) return false;
  try {
    // An ArrayBuffer serialises as "{}": uploads are measured here without their bytes.
    const json = JSON.stringify(data);
    return json !== undefined && json.length <= MAX_MESSAGE_CHARS;
  } catch {
    return false; // cycles, BigInt, nesting too deep
  }
}

function isPlausibleValue(value: unknown): boolean {
  switch (typeof value) {
    case "string": return value.length <= MAX_STRING_VALUE;
    case "number": return Number.isFinite(value);
    case "boolean": return true;
    default:
      if (value === null) return true;
      return Array.isArray(value) && value.length <= MAX_LIST_VALUE
        && value.every((item) => typeof item === "string" && item.length <= MAX_STRING_VALUE);
  }
}

function safeFileName(value: unknown): string {
  // The name is shown back and stored: no paths, no control characters.
  const name = typeof value === "string" ? value.replace(/[\u0000-\u001f\u007f/\\]/g, "").trim() : "";
  return name.slice(0, 255) || "upload";
}

function safeMimeType(value: unknown): string {
  return typeof value === "string" && /^[\w.+-]{1,64}\/[\w.+-]{1,128}$/.test(value) ? value : "application/octet-stream";
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MB`;
  if (bytes >= 1024) return `${Math.round(bytes / 1024)} kB`;
  return `${bytes} bytes`;
}

function randomHex(bytes: number): string {
  const buffer = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(buffer, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function failureNotice(text: string, reason: string): HTMLElement {
  const notice = document.createElement("div");
  notice.setAttribute("role", "alert");
  notice.dataset.testid = "layout-failed";
  Object.assign(notice.style, {
    margin: "0 0 12px",
    padding: "8px 12px",
    borderLeft: "3px solid #dc2626",
    background: "#fef2f2",
    color: "#7f1d1d",
  });
  const headline = document.createElement("div");
  headline.textContent = text;
  const detail = document.createElement("div");
  detail.textContent = reason;
  detail.style.fontSize = "0.9em";
  notice.append(headline, detail);
  return notice;
}

// ---------------------------------------------------------------------------------------
// Start

const hosts: LayoutHost[] = [];

function startAll() {
  for (const element of document.querySelectorAll<HTMLElement>("[data-tf-layout]")) {
    if (element.dataset.state) continue; // already started
    const host = new LayoutHost(element);
    hosts.push(host);
    try {
      host.start();
    } catch {
      host.fail("The layout could not be started.");
    }
  }
}

function stop(element: Element | null) {
  const index = hosts.findIndex((host) => host.element === element);
  if (index >= 0) hosts.splice(index, 1)[0].stop();
}

// For pages that add layouts later (the design site's preview): start new hosts, stop old ones.
(window as any).TicketFlowerLayouts = { hosts, start: startAll, stop };

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", startAll);
else startAll();
