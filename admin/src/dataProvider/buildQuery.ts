/**
 * react-admin's data provider methods as PostGraphile 5 operations, for any
 * resource `resourceShapes` finds: lists through connections (`first`,
 * `offset`, `orderBy`, `condition` → `nodes`, `totalCount`), one record by
 * `rowId`, several by aliased `rowId` lookups (the schema has no `in`
 * filter), and the create/update/delete mutations. react-admin's `id` is the
 * record's `rowId`.
 */
import type { IntrospectionSchema } from "graphql";
import { parse } from "graphql";

import { type MutationShape, type ResourceShape, resourceShapes } from "./resourceShapes.ts";

/** At most this many records per getMany query (the API allows 50 aliases). */
export const GET_MANY_CHUNK = 40;

export interface BuiltQuery {
  /** The operation as text (validated against schema.graphql in the tests). */
  text: string;
  variables: Record<string, unknown>;
  parseResponse: (response: { data: any }) => any;
}

export type RaRecord = Record<string, unknown> & { id: string };

/** Thrown for a request the schema cannot answer; the message names what is missing. */
export class UnsupportedRequestError extends Error {
  override name = "UnsupportedRequestError";
}

const toRecord = (node: Record<string, unknown> | null | undefined): RaRecord | undefined =>
  node ? ({ ...node, id: String(node.rowId) } as RaRecord) : undefined;

/** `createdAt` → `CREATED_AT`. */
export const constantCase = (field: string): string =>
  field.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();

function at(data: any, path: string[]): any {
  return path.reduce((value, key) => (value == null ? value : value[key]), data);
}

const shapesCache = new WeakMap<IntrospectionSchema, Map<string, ResourceShape>>();

/** The shapes of a schema, computed once per introspection result. */
export function shapesOf(schema: IntrospectionSchema): Map<string, ResourceShape> {
  let shapes = shapesCache.get(schema);
  if (!shapes) {
    shapes = resourceShapes(schema);
    shapesCache.set(schema, shapes);
  }
  return shapes;
}

function shapeOf(schema: IntrospectionSchema, resource: string): ResourceShape {
  const shapes = shapesOf(schema);
  const shape = shapes.get(resource) ?? [...shapes.values()].find((s) => s.typeName === resource);
  if (!shape) throw new UnsupportedRequestError(`The API has no resource "${resource}".`);
  return shape;
}

function orderBy(shape: ResourceShape, sort: { field?: string; order?: string } | undefined) {
  const direction = sort?.order === "DESC" ? "DESC" : "ASC";
  const field = !sort?.field || sort.field === "id" ? "rowId" : sort.field;
  const wanted = `${constantCase(field)}_${direction}`;
  if (shape.orderBy.has(wanted)) return [wanted];
  // Only indexed columns are orderable; the list keeps its natural order.
  return shape.orderBy.has(`PRIMARY_KEY_${direction}`) ? [`PRIMARY_KEY_${direction}`] : undefined;
}

function condition(shape: ResourceShape, filter: Record<string, unknown> | undefined) {
  const entries = Object.entries(filter ?? {}).filter(([, v]) => v !== undefined && v !== "");
  for (const [key] of entries) {
    if (!shape.conditionFields.has(key)) {
      throw new UnsupportedRequestError(
        `${shape.name} cannot be filtered by "${key}"; it can be filtered by ${
          [...shape.conditionFields].join(", ") || "nothing"
        }.`,
      );
    }
  }
  return entries.length ? Object.fromEntries(entries) : undefined;
}

function listQuery(
  shape: ResourceShape,
  params: {
    pagination?: { page: number; perPage: number };
    sort?: { field: string; order: string };
    filter?: Record<string, unknown>;
  },
  extraCondition: Record<string, unknown> = {},
): BuiltQuery {
  const { conditionType, orderByType, field } = shape.list;
  const page = params.pagination?.page ?? 1;
  const perPage = params.pagination?.perPage ?? 25;
  const where = condition(shape, { ...params.filter, ...extraCondition });
  const defs = ["$first: Int", "$offset: Int"];
  const args = ["first: $first", "offset: $offset"];
  if (orderByType) {
    defs.push(`$orderBy: [${orderByType}!]`);
    args.push("orderBy: $orderBy");
  }
  if (conditionType) {
    defs.push(`$condition: ${conditionType}`);
    args.push("condition: $condition");
  }
  return {
    text: `query ${shape.typeName}List(${defs.join(", ")}) { ${field}(${args.join(", ")}) { totalCount nodes { ${shape.fields.join(" ")} } } }`,
    variables: {
      first: perPage,
      offset: (page - 1) * perPage,
      ...(orderByType ? { orderBy: orderBy(shape, params.sort) } : {}),
      ...(conditionType ? { condition: where } : {}),
    },
    parseResponse: ({ data }) => ({
      data: (data[field].nodes as Array<Record<string, unknown>>).map((n) => toRecord(n)!),
      total: data[field].totalCount as number,
    }),
  };
}

function requireOne(shape: ResourceShape) {
  if (!shape.one) throw new UnsupportedRequestError(`${shape.name} cannot be read one by one.`);
  return shape.one;
}

function requireMutation(shape: ResourceShape, which: "create" | "update" | "remove") {
  const mutation = shape[which];
  const verb = which === "remove" ? "deleted" : `${which}d`;
  if (!mutation) throw new UnsupportedRequestError(`${shape.name} cannot be ${verb} here.`);
  return mutation;
}

function mutationQuery(
  shape: ResourceShape,
  mutation: MutationShape,
  input: Record<string, unknown>,
): BuiltQuery {
  return {
    text: `mutation ${mutation.field[0]!.toUpperCase()}${mutation.field.slice(1)}($input: ${mutation.inputType}) { ${mutation.field}(input: $input) { ${mutation.selection} } }`,
    variables: { input },
    parseResponse: ({ data }) => {
      const payload = data[mutation.field];
      const record = toRecord(at(payload, mutation.recordPath));
      if (!record) throw new UnsupportedRequestError(`The API returned no ${shape.typeName}.`);
      // Scalars next to the record (a new secret) are returned once, with it.
      const holder = at(payload, mutation.recordPath.slice(0, -1)) ?? {};
      for (const extra of mutation.extras) {
        if (holder[extra] !== undefined) record[extra] = holder[extra];
      }
      return { data: record };
    },
  };
}

const pick = (data: Record<string, unknown>, keys: Set<string>) =>
  Object.fromEntries(Object.entries(data).filter(([k, v]) => keys.has(k) && v !== undefined));

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * One operation for one data provider call. `method` is react-admin's
 * (`GET_LIST`, `GET_ONE`, ...); `resource` the list field or the type name.
 */
export function buildQuery(
  schema: IntrospectionSchema,
  method: string,
  resource: string,
  params: any,
): BuiltQuery {
  const shape = shapeOf(schema, resource);
  switch (method) {
    case "GET_LIST":
      return listQuery(shape, params);
    case "GET_MANY_REFERENCE":
      return listQuery(shape, params, { [params.target]: params.id });
    case "GET_ONE": {
      const one = requireOne(shape);
      return {
        text: `query ${shape.typeName}One($rowId: ${one.idType}) { ${one.field}(rowId: $rowId) { ${shape.fields.join(" ")} } }`,
        variables: { rowId: params.id },
        parseResponse: ({ data }) => {
          const record = toRecord(data[one.field]);
          if (!record) throw new UnsupportedRequestError(`No ${shape.typeName} ${params.id}.`);
          return { data: record };
        },
      };
    }
    case "GET_MANY": {
      const one = requireOne(shape);
      const ids = [...new Set<string>((params.ids ?? []).map(String))];
      if (ids.length > GET_MANY_CHUNK) {
        throw new UnsupportedRequestError(`getMany takes at most ${GET_MANY_CHUNK} ids per query.`);
      }
      if (ids.length === 0) {
        return {
          text: "query Nothing { __typename }",
          variables: {},
          parseResponse: () => ({ data: [] }),
        };
      }
      const defs = ids.map((_, i) => `$r${i}: ${one.idType.replace(/!?$/, "!")}`).join(", ");
      const fields = ids
        .map((_, i) => `r${i}: ${one.field}(rowId: $r${i}) { ${shape.fields.join(" ")} }`)
        .join(" ");
      return {
        text: `query ${shape.typeName}Many(${defs}) { ${fields} }`,
        variables: Object.fromEntries(ids.map((id, i) => [`r${i}`, id])),
        // Records the caller may not see are left out, as react-admin expects.
        parseResponse: ({ data }) => ({
          data: ids.map((_, i) => toRecord(data[`r${i}`])).filter((r) => r !== undefined),
        }),
      };
    }
    case "CREATE": {
      const create = requireMutation(shape, "create");
      const values = pick(params.data ?? {}, create.accepts);
      return mutationQuery(shape, create, create.wrapper ? { [create.wrapper]: values } : values);
    }
    case "UPDATE": {
      const update = requireMutation(shape, "update");
      const previous = params.previousData ?? {};
      // Only what changed: an unchanged field is not rewritten (nor audited).
      const patch = Object.fromEntries(
        Object.entries(pick(params.data ?? {}, update.accepts)).filter(
          ([key, value]) => !same(value, previous[key]),
        ),
      );
      return mutationQuery(shape, update, { rowId: params.id, patch });
    }
    case "DELETE": {
      const remove = requireMutation(shape, "remove");
      return mutationQuery(shape, remove, { rowId: params.id });
    }
    default:
      throw new UnsupportedRequestError(`${method} is not supported for ${shape.name}.`);
  }
}

/** ra-data-graphql's `buildQuery` factory: the same, with the text parsed. */
export function buildQueryFactory(introspection: { schema: IntrospectionSchema }) {
  return (method: string, resource: string, params: unknown) => {
    const { text, ...rest } = buildQuery(introspection.schema, method, resource, params);
    return { query: parse(text), ...rest };
  };
}
