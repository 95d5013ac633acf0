import { GraphQLError } from "postgraphile/graphql";

/**
 * JSON has no Infinity or NaN, but `JSON.parse` reads `1e400` as Infinity
 * and a GraphQL float literal does the same; PostGraphile would then send
 * it to Postgres as `null`, so `{"rolloutBasisPoints": 1e400}` quietly became the
 * default (100%). JSON arguments with a number that is not finite are
 * refused, naming where it is.
 */
export const JsonInputPlugin: GraphileConfig.Plugin = {
  name: "JsonInputPlugin",
  version: "0.1.0",
  schema: {
    hooks: {
      GraphQLScalarType(config, build) {
        if (config.name !== build.inflection.builtin("JSON")) return config;
        const { parseValue, parseLiteral } = config;
        return {
          ...config,
          parseValue: (value) => finiteJson(parseValue ? parseValue(value) : value),
          parseLiteral: (ast, variables) =>
            finiteJson(parseLiteral ? parseLiteral(ast, variables) : undefined),
        };
      },
    },
  },
};

/** `value`, once every number in it is known to be finite (iterative: any depth). */
function finiteJson(value: unknown): unknown {
  const pending: Array<[unknown, string]> = [[value, "$"]];
  while (pending.length > 0) {
    const [item, path] = pending.pop()!;
    if (typeof item === "number") {
      if (!Number.isFinite(item)) {
        throw new GraphQLError(
          `JSON number at ${path} is out of range (${item}): numbers must be finite`,
          { extensions: { code: "BADNM" } },
        );
      }
    } else if (Array.isArray(item)) {
      item.forEach((element, index) => pending.push([element, `${path}[${index}]`]));
    } else if (item !== null && typeof item === "object") {
      for (const [key, element] of Object.entries(item)) pending.push([element, `${path}.${key}`]);
    }
  }
  return value;
}
