// What the frame runtime hands to the kit. Internal: layouts reach it only through the
// kit's hooks, so the upload plumbing below is not part of the public API.
import { createContext } from "react";

export type Mode = "edit" | "display";

export type FieldType =
  | "text" | "long_text" | "number" | "integer" | "boolean" | "date" | "datetime"
  | "email" | "url" | "choice" | "multi_choice" | "file";

export interface FieldSpec {
  name: string;
  type: FieldType;
  label?: string;
  required?: boolean;
  help_text?: string;
  options?: string[];
}

export type Values = Record<string, unknown>;
export type Errors = Record<string, string[]>;
export type LayoutContext = Record<string, any>;
export interface FileInfo { name: string; size?: number }

export interface FormApi {
  mode: Mode;
  fields: readonly FieldSpec[];
  values: Values;
  errors: Errors;
  context: LayoutContext;
  setValue(name: string, value: unknown): void;
  setValues(values: Values): void;
  submit(): void;
  /** Uploaded files by id: context.files plus what was uploaded in this frame. */
  files: Record<string, FileInfo>;
  /** Field name → name of the file being uploaded for it. */
  uploading: Record<string, string>;
  upload(field: string, file: File): void;
}

export const FormContext = createContext<FormApi | null>(null);
