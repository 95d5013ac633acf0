import { TextInput, type TextInputProps } from "react-admin";

/** Parses what is typed; an invalid document is reported, never sent. */
function validateJson(value: unknown): string | undefined {
  if (typeof value !== "string" || value.trim() === "") return undefined;
  try {
    JSON.parse(value);
    return undefined;
  } catch (error) {
    return `Not valid JSON: ${(error as Error).message}`;
  }
}

/** A JSON value edited as text (pretty-printed); empty means null. */
export function JsonInput(props: TextInputProps) {
  return (
    <TextInput
      multiline
      minRows={3}
      fullWidth
      {...props}
      format={(value: unknown) =>
        typeof value === "string" ? value : value == null ? "" : JSON.stringify(value, null, 2)
      }
      parse={(text: string) => {
        if (text.trim() === "") return null;
        try {
          return JSON.parse(text);
        } catch {
          return text;
        }
      }}
      validate={(value: unknown) => validateJson(value)}
      sx={{ "& textarea": { fontFamily: "monospace" } }}
    />
  );
}
