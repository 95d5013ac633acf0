/**
 * What PostGraphile 5 offers for each table, read from an introspection
 * result: the connection field that lists it, the `rowId` lookup, the
 * create/update/delete mutations and their input shapes, the condition and
 * order-by enums. Nothing here names a table: a new table with the usual
 * grants appears as a resource without a line of code.
 */
import type {
  IntrospectionField,
  IntrospectionInputObjectType,
  IntrospectionInputTypeRef,
  IntrospectionInputValue,
  IntrospectionObjectType,
  IntrospectionOutputTypeRef,
  IntrospectionSchema,
  IntrospectionType,
  IntrospectionTypeRef,
} from "graphql";

export interface MutationShape {
  /** The root mutation field. */
  field: string;
  /** Its `input` argument's type, as written in a variable definition. */
  inputType: string;
  /** The fields the input object (or its nested record / patch) accepts. */
  accepts: Set<string>;
  /** Standard CRUD: `{ input: { <wrapper>: {...} } }`; functions take the fields flat. */
  wrapper?: string;
  /** Selection on the payload and where the record is in it. */
  selection: string;
  recordPath: string[];
  /** Scalars returned next to the record once (a secret, a temporary password). */
  extras: string[];
}

export interface ResourceShape {
  /** The react-admin resource name: the list field (`environments`, `apiTokens`). */
  name: string;
  typeName: string;
  /** Selection of every scalar, enum, list of scalars and JSON field. */
  fields: string[];
  list: { field: string; conditionType?: string; orderByType?: string };
  conditionFields: Set<string>;
  orderBy: Set<string>;
  one?: { field: string; idType: string };
  create?: MutationShape;
  update?: MutationShape;
  remove?: MutationShape;
}

const lcfirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);

function unwrap(ref: IntrospectionTypeRef): { name: string; kind: string } {
  let t: IntrospectionTypeRef = ref;
  while (t.kind === "NON_NULL" || t.kind === "LIST") t = t.ofType;
  return { name: t.name, kind: t.kind };
}

/** `[UUID]!` as written in a variable definition. */
export function typeString(ref: IntrospectionTypeRef): string {
  if (ref.kind === "NON_NULL") return `${typeString(ref.ofType)}!`;
  if (ref.kind === "LIST") return `[${typeString(ref.ofType)}]`;
  return ref.name;
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

class SchemaIndex {
  readonly types = new Map<string, IntrospectionType>();
  readonly query: IntrospectionObjectType;
  readonly mutation: IntrospectionObjectType | undefined;

  constructor(schema: IntrospectionSchema) {
    for (const type of schema.types) this.types.set(type.name, type);
    this.query = this.types.get(schema.queryType.name) as IntrospectionObjectType;
    this.mutation = schema.mutationType
      ? (this.types.get(schema.mutationType.name) as IntrospectionObjectType)
      : undefined;
  }

  object(name: string): IntrospectionObjectType | undefined {
    const type = this.types.get(name);
    return type?.kind === "OBJECT" ? type : undefined;
  }

  input(name: string): IntrospectionInputObjectType | undefined {
    const type = this.types.get(name);
    return type?.kind === "INPUT_OBJECT" ? type : undefined;
  }

  enumValues(name: string | undefined): Set<string> {
    const type = name ? this.types.get(name) : undefined;
    return new Set(type?.kind === "ENUM" ? type.enumValues.map((v) => v.name) : []);
  }

  /** Scalars, enums and lists of them; no connections, records or fields with required arguments. */
  scalarFields(type: IntrospectionObjectType): string[] {
    return type.fields
      .filter((f) => !f.args.some((a) => a.type.kind === "NON_NULL"))
      .filter((f) => {
        const { kind } = unwrap(f.type);
        return kind === "SCALAR" || kind === "ENUM";
      })
      .map((f) => f.name)
      .filter((name) => name !== "id")
      .sort();
  }
}

/** The selection `{ rowId name ... }` of a record, with react-admin's `id` being `rowId`. */
function recordSelection(index: SchemaIndex, typeName: string): string {
  const type = index.object(typeName);
  return type ? index.scalarFields(type).join(" ") : "";
}

/**
 * Where a mutation's payload holds a record of `typeName`: the payload
 * itself, one of its fields (`environment`), or one level deeper
 * (`result { client }`); plus the scalars beside it (`secret`).
 */
function payloadShape(
  index: SchemaIndex,
  payloadType: IntrospectionOutputTypeRef,
  typeName: string,
): Pick<MutationShape, "selection" | "recordPath" | "extras"> | undefined {
  const record = recordSelection(index, typeName);
  const named = unwrap(payloadType).name;
  if (named === typeName) return { selection: record, recordPath: [], extras: [] };
  const search = (
    type: IntrospectionObjectType,
    depth: number,
  ): { path: string[]; selection: string; extras: string[] } | undefined => {
    const fields = type.fields.filter((f) => f.args.every((a) => a.type.kind !== "NON_NULL"));
    const direct = fields.find((f) => unwrap(f.type).name === typeName);
    const extras = fields
      .filter((f) => unwrap(f.type).kind === "SCALAR" && f.name !== "clientMutationId")
      .map((f) => f.name);
    if (direct) {
      return {
        path: [direct.name],
        selection: `${direct.name} { ${record} } ${extras.join(" ")}`.trim(),
        extras,
      };
    }
    if (depth === 0) return undefined;
    for (const field of fields) {
      const inner = index.object(unwrap(field.type).name);
      if (!inner || field.name === "query") continue;
      const found = search(inner, depth - 1);
      if (found) {
        return {
          path: [field.name, ...found.path],
          selection: `${field.name} { ${found.selection} }`,
          extras: found.extras,
        };
      }
    }
    return undefined;
  };
  const payload = index.object(named);
  const found = payload && search(payload, 1);
  return found
    ? { selection: found.selection, recordPath: found.path, extras: found.extras }
    : undefined;
}

function inputArg(field: IntrospectionField): IntrospectionInputValue | undefined {
  return field.args.find((a) => a.name === "input");
}

function inputFields(index: SchemaIndex, ref: IntrospectionInputTypeRef | undefined): string[] {
  if (!ref) return [];
  return (index.input(unwrap(ref).name)?.inputFields ?? []).map((f) => f.name);
}

function mutationShape(
  index: SchemaIndex,
  name: string,
  typeName: string,
  kind: "create" | "update" | "delete",
): MutationShape | undefined {
  const field = index.mutation?.fields.find((f) => f.name === name);
  const arg = field && inputArg(field);
  if (!field || !arg) return undefined;
  const payload = payloadShape(index, field.type, typeName);
  if (!payload) return undefined;
  const input = index.input(unwrap(arg.type).name);
  if (!input) return undefined;
  const base = { field: name, inputType: typeString(arg.type), ...payload };
  const byName = new Map(input.inputFields.map((f) => [f.name, f]));
  if (kind === "create") {
    const wrapper = byName.get(lcfirst(typeName));
    if (wrapper) {
      return { ...base, wrapper: wrapper.name, accepts: new Set(inputFields(index, wrapper.type)) };
    }
    const flat = [...byName.keys()].filter((n) => n !== "clientMutationId");
    return { ...base, accepts: new Set(flat) };
  }
  if (!byName.has("rowId")) return undefined;
  if (kind === "update") {
    const patch = byName.get("patch");
    if (!patch) return undefined;
    return { ...base, wrapper: "patch", accepts: new Set(inputFields(index, patch.type)) };
  }
  return { ...base, accepts: new Set(["rowId"]) };
}

/** Every table PostGraphile exposes as a connection whose records have a `rowId`. */
export function resourceShapes(schema: IntrospectionSchema): Map<string, ResourceShape> {
  const index = new SchemaIndex(schema);
  const listsByType = new Map<string, IntrospectionField>();
  for (const field of index.query.fields) {
    const named = unwrap(field.type).name;
    if (!named.endsWith("Connection")) continue;
    const typeName = named.slice(0, -"Connection".length);
    const previous = listsByType.get(typeName);
    // `featureKills` over `activeFeatureKills`: the name closest to the type's.
    if (
      !previous ||
      commonPrefix(field.name, lcfirst(typeName)) > commonPrefix(previous.name, lcfirst(typeName))
    ) {
      listsByType.set(typeName, field);
    }
  }
  const shapes = new Map<string, ResourceShape>();
  for (const [typeName, listField] of listsByType) {
    const type = index.object(typeName);
    if (!type || !type.fields.some((f) => f.name === "rowId")) continue;
    const arg = (name: string) => listField.args.find((a) => a.name === name);
    const conditionType = arg("condition") && unwrap(arg("condition")!.type).name;
    const orderByType = arg("orderBy") && unwrap(arg("orderBy")!.type).name;
    const oneField = index.query.fields.find(
      (f) => f.name === lcfirst(typeName) && f.args.some((a) => a.name === "rowId"),
    );
    const rowIdArg = oneField?.args.find((a) => a.name === "rowId");
    shapes.set(listField.name, {
      name: listField.name,
      typeName,
      fields: index.scalarFields(type),
      list: { field: listField.name, conditionType, orderByType },
      conditionFields: new Set(inputFields(index, arg("condition")?.type)),
      orderBy: index.enumValues(orderByType),
      one:
        oneField && rowIdArg
          ? { field: oneField.name, idType: typeString(rowIdArg.type) }
          : undefined,
      create: mutationShape(index, `create${typeName}`, typeName, "create"),
      update: mutationShape(index, `update${typeName}`, typeName, "update"),
      remove: mutationShape(index, `delete${typeName}`, typeName, "delete"),
    });
  }
  return shapes;
}
