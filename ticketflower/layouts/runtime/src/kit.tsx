// @ticketflower/kit: what layouts import. Everything here renders from the form state the
// frame runtime provides; nothing talks to the bridge directly.
import { useContext, useId, useState, type CSSProperties, type ReactNode } from "react";
import { FormContext, type FieldSpec, type FileInfo, type FormApi, type Values } from "./form-context";

type Children = { children?: ReactNode };

function useFormApi(): FormApi {
  const api = useContext(FormContext);
  if (!api) throw new Error("@ticketflower/kit components work only inside a layout.");
  return api;
}

function findField(fields: readonly FieldSpec[], name: string): FieldSpec | undefined {
  return fields.find((field) => field.name === name);
}

// ---------------------------------------------------------------------------------------
// Hooks

export function useForm() {
  const { mode, fields, values, errors, context, setValue, setValues, submit } = useFormApi();
  return { mode, fields, values, errors, context, setValue, setValues, submit };
}

export function useField(name: string) {
  const { fields, values, errors, setValue } = useFormApi();
  return {
    spec: findField(fields, name),
    value: values[name],
    errors: errors[name] ?? [],
    setValue: (value: unknown) => setValue(name, value),
  };
}

// ---------------------------------------------------------------------------------------
// Form and Field

export function Form({ children, submitLabel }: Children & { submitLabel?: string }) {
  const { mode, errors, submit } = useFormApi();
  const formErrors = <ErrorList className="tf-form-errors" messages={errors[""]} />;
  if (mode === "display") {
    return <div className="tf-form" data-testid="layout-display">{formErrors}{children}</div>;
  }
  return (
    <form
      className="tf-form"
      noValidate
      data-testid="layout-form"
      onSubmit={(event) => {
        event.preventDefault();
        submit();
      }}
    >
      {formErrors}
      {children}
      {submitLabel && (
        <div className="tf-actions">
          <button type="submit" className="tf-button">{submitLabel}</button>
        </div>
      )}
    </form>
  );
}

interface FieldProps { name: string; label?: ReactNode; help?: ReactNode }

export function Field({ name, label, help }: FieldProps) {
  const { mode, fields, errors } = useFormApi();
  const id = useId();
  const spec = findField(fields, name);
  if (!spec) return <UnknownField name={name} />;

  const labelText = label ?? spec.label ?? name;
  if (mode === "display") {
    return (
      <div className="tf-field" data-field={name}>
        <div className="tf-label">{labelText}</div>
        <Value name={name} />
      </div>
    );
  }

  const ids = { input: `${id}input`, label: `${id}label`, help: `${id}help`, errors: `${id}errors` };
  const helpText = help ?? spec.help_text;
  const messages = errors[name] ?? [];
  const describedBy = [helpText ? ids.help : "", messages.length ? ids.errors : ""].filter(Boolean).join(" ");
  const labelContent = (
    <>
      {labelText}
      {spec.required && <span className="tf-required" aria-hidden="true"> *</span>}
    </>
  );
  // Radio and checkbox groups have no single control a <label for> could point at.
  const isGroup = spec.type === "boolean" || spec.type === "multi_choice";

  return (
    <div className="tf-field" data-field={name}>
      {isGroup ? (
        <div className="tf-label" id={ids.label}>{labelContent}</div>
      ) : (
        <label className="tf-label" id={ids.label} htmlFor={ids.input}>{labelContent}</label>
      )}
      <InputFor spec={spec} id={ids.input} labelledBy={ids.label} describedBy={describedBy || undefined} />
      {helpText && <div className="tf-help" id={ids.help}>{helpText}</div>}
      <ErrorList id={ids.errors} messages={messages} />
    </div>
  );
}

function InputFor({ spec, ...props }: InputProps & { spec: FieldSpec }) {
  const name = spec.name;
  switch (spec.type) {
    case "long_text": return <TextArea name={name} {...props} />;
    case "number":
    case "integer": return <NumberInput name={name} {...props} />;
    case "boolean": return <YesNo name={name} {...props} />;
    case "date": return <DateInput name={name} {...props} />;
    case "datetime": return <DateTimeInput name={name} {...props} />;
    case "choice": return <Select name={name} {...props} />;
    case "multi_choice": return <MultiSelect name={name} {...props} />;
    case "file": return <FileInput name={name} {...props} />;
    default: return <TextInput name={name} {...props} />;
  }
}

function UnknownField({ name }: { name: string }) {
  return <div className="tf-notice">Unknown field “{name}”.</div>;
}

function ErrorList({ messages, id, className }: { messages?: unknown; id?: string; className?: string }) {
  const list = Array.isArray(messages) ? messages.filter((m) => typeof m === "string" && m) : [];
  if (!list.length) return null;
  return (
    <ul className={className ? `tf-errors ${className}` : "tf-errors"} id={id} role="alert">
      {list.map((message, index) => <li key={index}>{message}</li>)}
    </ul>
  );
}

// ---------------------------------------------------------------------------------------
// Inputs. Each takes {name}; Field also passes the ids that tie it to its label, help and
// errors. In display mode every input shows the formatted value instead.

interface InputProps {
  name: string;
  id?: string;
  labelledBy?: string;
  describedBy?: string;
}

function useInput({ name, id, describedBy }: InputProps) {
  const form = useFormApi();
  const ownId = useId();
  const spec = findField(form.fields, name);
  return {
    form,
    spec,
    value: form.values[name],
    // Empty input means "no answer": the key is left out rather than sent as "".
    setValue: (value: unknown) => form.setValue(name, value),
    attrs: {
      id: id ?? ownId,
      name,
      "aria-invalid": (form.errors[name]?.length ?? 0) > 0,
      "aria-describedby": describedBy,
      "aria-required": spec?.required || undefined,
    },
  };
}

const asText = (value: unknown) => (typeof value === "string" || typeof value === "number" ? String(value) : "");

export function TextInput(props: InputProps & { type?: "text" | "email" | "url" }) {
  const { form, spec, value, setValue, attrs } = useInput(props);
  if (form.mode === "display") return <Value name={props.name} />;
  const type = props.type ?? (spec?.type === "email" || spec?.type === "url" ? spec.type : "text");
  return (
    <input
      {...attrs}
      className="tf-input"
      type={type}
      value={asText(value)}
      onChange={(event) => setValue(event.target.value || undefined)}
    />
  );
}

export function TextArea(props: InputProps) {
  const { form, value, setValue, attrs } = useInput(props);
  if (form.mode === "display") return <Value name={props.name} />;
  return (
    <textarea
      {...attrs}
      className="tf-input"
      rows={4}
      value={asText(value)}
      onChange={(event) => setValue(event.target.value || undefined)}
    />
  );
}

export function NumberInput(props: InputProps) {
  const { form, spec, value, setValue, attrs } = useInput(props);
  // What the person typed, kept as typed: "1." or "1.0" are on their way to 1.05, and feeding
  // the parsed number back would turn them into "1" mid-word.
  const [text, setText] = useState(asText(value));
  const parsed = text === "" ? NaN : Number(text);
  if (!(Number.isFinite(parsed) ? parsed === value : value === undefined || value === null)) {
    setText(asText(value)); // the value changed from outside (update, another field's code)
  }
  if (form.mode === "display") return <Value name={props.name} />;
  const integer = spec?.type === "integer";
  return (
    <input
      {...attrs}
      className="tf-input"
      type="number"
      step={integer ? 1 : "any"}
      inputMode={integer ? "numeric" : "decimal"}
      value={text}
      onChange={(event) => {
        setText(event.target.value);
        // A half-typed number ("-", "1e") reads as "": leave the key out until it parses.
        const number = event.target.value === "" ? NaN : Number(event.target.value);
        setValue(Number.isFinite(number) ? number : undefined);
      }}
    />
  );
}

export function YesNo(props: InputProps) {
  const { form, value, setValue, attrs } = useInput(props);
  if (form.mode === "display") return <Value name={props.name} />;
  return (
    <div
      className="tf-choices tf-inline"
      role="radiogroup"
      id={attrs.id}
      aria-labelledby={props.labelledBy}
      aria-describedby={attrs["aria-describedby"]}
      aria-invalid={attrs["aria-invalid"]}
      aria-required={attrs["aria-required"]}
    >
      {[true, false].map((option) => (
        <label className="tf-choice" key={String(option)}>
          <input
            type="radio"
            id={`${attrs.id}-${option ? "yes" : "no"}`}
            name={props.name}
            checked={value === option}
            aria-invalid={attrs["aria-invalid"]}
            onChange={() => setValue(option)}
          />
          {option ? "Yes" : "No"}
        </label>
      ))}
    </div>
  );
}

export function DateInput(props: InputProps) {
  return <MomentInput {...props} type="date" length={10} />;
}

export function DateTimeInput(props: InputProps) {
  // The input takes only "YYYY-MM-DDTHH:MM": stored ISO strings lose seconds and offset here.
  return <MomentInput {...props} type="datetime-local" length={16} />;
}

function MomentInput({ type, length, ...props }: InputProps & { type: "date" | "datetime-local"; length: number }) {
  const { form, value, setValue, attrs } = useInput(props);
  if (form.mode === "display") return <Value name={props.name} />;
  return (
    <input
      {...attrs}
      className="tf-input"
      type={type}
      value={typeof value === "string" ? value.slice(0, length) : ""}
      onChange={(event) => setValue(event.target.value || undefined)}
    />
  );
}

export function Select(props: InputProps) {
  const { form, spec, value, setValue, attrs } = useInput(props);
  if (form.mode === "display") return <Value name={props.name} />;
  return (
    <select
      {...attrs}
      className="tf-input"
      value={typeof value === "string" ? value : ""}
      onChange={(event) => setValue(event.target.value || undefined)}
    >
      <option value="">—</option>
      {(spec?.options ?? []).map((option) => <option key={option} value={option}>{option}</option>)}
    </select>
  );
}

export function MultiSelect(props: InputProps) {
  const { form, spec, value, setValue, attrs } = useInput(props);
  if (form.mode === "display") return <Value name={props.name} />;
  const selected = Array.isArray(value) ? value : [];
  const toggle = (option: string, on: boolean) => {
    const options = spec?.options ?? [];
    // Keep the options' order, whatever order they were ticked in.
    const next = options.filter((o) => (o === option ? on : selected.includes(o)));
    setValue(next.length ? next : undefined);
  };
  return (
    <div
      className="tf-choices"
      role="group"
      id={attrs.id}
      aria-labelledby={props.labelledBy}
      aria-describedby={attrs["aria-describedby"]}
      aria-invalid={attrs["aria-invalid"]}
    >
      {(spec?.options ?? []).map((option, index) => (
        <label className="tf-choice" key={option}>
          <input
            type="checkbox"
            id={`${attrs.id}-${index}`}
            name={props.name}
            value={option}
            checked={selected.includes(option)}
            aria-invalid={attrs["aria-invalid"]}
            onChange={(event) => toggle(option, event.target.checked)}
          />
          {option}
        </label>
      ))}
    </div>
  );
}

export function FileInput(props: InputProps) {
  const { form, value, setValue, attrs } = useInput(props);
  if (form.mode === "display") return <Value name={props.name} />;
  const uploading = form.uploading[props.name];
  const hasFile = value !== undefined && value !== null && value !== "";
  return (
    <div className="tf-file">
      {uploading ? (
        <span className="tf-muted" role="status">Uploading…</span>
      ) : hasFile && (
        <span className="tf-file-current">
          <span className="tf-file-name">{fileLabel(form.files, value)}</span>
          <button type="button" className="tf-link" onClick={() => setValue(undefined)}>Remove</button>
        </span>
      )}
      <input
        {...attrs}
        className="tf-file-input"
        type="file"
        disabled={Boolean(uploading)}
        onChange={(event) => {
          const file = event.target.files?.[0];
          // Reset so that choosing the same file again still counts as a change.
          event.target.value = "";
          if (file) form.upload(props.name, file);
        }}
      />
    </div>
  );
}

// ---------------------------------------------------------------------------------------
// Display

export function Value({ name }: { name: string }) {
  const { fields, values, files } = useFormApi();
  const spec = findField(fields, name);
  const text = formatValue(spec, values[name], files);
  let className = "tf-value";
  if (spec?.type === "long_text") className += " tf-multiline";
  if (!text) className += " tf-empty";
  return <div className={className}>{text || "—"}</div>;
}

function formatValue(spec: FieldSpec | undefined, value: unknown, files: Record<string, FileInfo>): string {
  if (value === undefined || value === null || value === "") return "";
  if (Array.isArray(value)) return value.map(String).join(", ");
  switch (spec?.type) {
    case "boolean": return value === true ? "Yes" : value === false ? "No" : String(value);
    case "file": return fileLabel(files, value);
    case "datetime": return formatDateTime(value);
  }
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function fileLabel(files: Record<string, FileInfo>, id: unknown): string {
  return files[String(id)]?.name || `File #${id}`;
}

// "2024-05-01T09:30:00+02:00" → "2024-05-01 09:30": unambiguous, and the same for every
// viewer (the frame does not know the viewer's time zone preference).
function formatDateTime(value: unknown): string {
  const text = String(value);
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(text);
  return match ? `${match[1]} ${match[2]}` : text;
}

// ---------------------------------------------------------------------------------------
// Layout primitives

type Box = Children & { className?: string };
const classes = (base: string, extra?: string) => (extra ? `${base} ${extra}` : base);

export function Stack({ gap, children, className }: Box & { gap?: number }) {
  return <div className={classes("tf-stack", className)} style={gap === undefined ? undefined : { gap }}>{children}</div>;
}

export function Row({ children, className }: Box) {
  return <div className={classes("tf-row", className)}>{children}</div>;
}

export function Columns({ count = 2, children, className }: Box & { count?: number }) {
  const style = { "--tf-columns": Math.max(1, Math.floor(count)) } as CSSProperties;
  return <div className={classes("tf-columns", className)} style={style}>{children}</div>;
}

export function Section({ title, description, children, className }: Box & { title: ReactNode; description?: ReactNode }) {
  return (
    <section className={classes("tf-section", className)}>
      <div>
        <h2 className="tf-section-title">{title}</h2>
        {description && <p className="tf-section-description">{description}</p>}
      </div>
      {children}
    </section>
  );
}

export function Card({ title, children, className }: Box & { title?: ReactNode }) {
  return (
    <div className={classes("tf-card", className)}>
      {title && <h3 className="tf-card-title">{title}</h3>}
      {children}
    </div>
  );
}

export function Heading({ level = 2, children, className }: Box & { level?: 1 | 2 | 3 | 4 | 5 | 6 }) {
  const Tag = `h${Math.min(6, Math.max(1, level))}` as "h2";
  return <Tag className={classes("tf-heading", className)}>{children}</Tag>;
}

export function Text({ muted, children, className }: Box & { muted?: boolean }) {
  return <p className={classes(muted ? "tf-text tf-muted" : "tf-text", className)}>{children}</p>;
}

type Tone = "neutral" | "info" | "success" | "warning" | "danger";

export function Badge({ tone = "neutral", children, className }: Box & { tone?: Tone }) {
  return <span className={classes(`tf-badge tf-badge-${tone}`, className)}>{children}</span>;
}

export function Divider() {
  return <hr className="tf-divider" />;
}

// ---------------------------------------------------------------------------------------
// Ready-made

export function AutoForm({ submitLabel }: { submitLabel?: string }) {
  const { fields } = useFormApi();
  return (
    <Form submitLabel={submitLabel}>
      {fields.map((field) => <Field key={field.name} name={field.name} />)}
    </Form>
  );
}

/** Every field's value; `filled` leaves out the fields that have none yet. */
export function AutoDisplay({ filled = false }: { filled?: boolean }) {
  const { fields, values } = useFormApi();
  const shown = filled ? fields.filter((field) => !isEmpty(values[field.name])) : fields;
  if (!shown.length) return null;
  return (
    <dl className="tf-display">
      {shown.map((field) => (
        <div className="tf-display-row" key={field.name} data-field={field.name}>
          <dt>{field.label || field.name}</dt>
          <dd><Value name={field.name} /></dd>
        </div>
      ))}
    </dl>
  );
}

interface TaskEntry { key?: string; title?: string; status?: string; status_label?: string; who?: string; when?: string }

export function TaskList() {
  const { context } = useFormApi();
  const tasks: TaskEntry[] = Array.isArray(context.tasks) ? context.tasks : [];
  if (!tasks.length) return null;
  return (
    <ol className="tf-tasks">
      {tasks.map((task, index) => {
        const meta = [plain(task.who), task.when ? formatDateTime(task.when) : ""].filter(Boolean).join(" · ");
        return (
          <li className="tf-task" key={plain(task.key) || index} data-task={plain(task.key) || undefined}>
            <div className="tf-task-head">
              <span className="tf-task-title">{plain(task.title) || plain(task.key)}</span>
              {(task.status || task.status_label) && (
                <Badge tone={statusTone(task.status ?? task.status_label)}>{plain(task.status_label) || plain(task.status)}</Badge>
              )}
            </div>
            {meta && <div className="tf-task-meta">{meta}</div>}
          </li>
        );
      })}
    </ol>
  );
}

// Context is free-form metadata: show strings and numbers, never let an object reach JSX.
function plain(value: unknown): string {
  return typeof value === "string" || typeof value === "number" ? String(value) : "";
}

function statusTone(status: unknown): Tone {
  const text = String(status).toLowerCase().replace(/ /g, "_");
  if (/^(done|completed?|approved|closed|resolved)$/.test(text)) return "success";
  if (/^(rejected|failed|cancell?ed|error)$/.test(text)) return "danger";
  if (/^(waiting|blocked|on_hold|overdue)$/.test(text)) return "warning";
  if (/^(open|active|in_progress|running|ready)$/.test(text)) return "info";
  return "neutral";
}

export type { FieldSpec, Values };

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || value === "" || (Array.isArray(value) && value.length === 0);
}
