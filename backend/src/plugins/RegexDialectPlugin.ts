import { compilePattern } from "@fluxgate/engine";
import { getOperationAST, GraphQLError, Kind, valueFromASTUntyped } from "postgraphile/graphql";

/**
 * Rules are stored by Postgres but evaluated by the engine, whose REGEX is
 * ECMAScript compiled with the `u` flag (docs/evaluation.md). Postgres
 * validates patterns in its own dialect, which accepts things JavaScript
 * refuses or reads differently (`[[:alpha:]]`, `(?i)`, `\m`, `\_`). A pattern
 * only Postgres accepts would reach edges as a flag that cannot compile, so
 * every mutation's arguments are checked here, before anything runs: any
 * condition `{operator: "REGEX"}` whose value(s) JavaScript cannot compile
 * fails the request with BADRX, the code the database uses for its own check.
 */
export const RegexDialectPlugin: GraphileConfig.Plugin = {
  name: "RegexDialectPlugin",
  version: "0.1.0",
  grafast: {
    middleware: {
      execute(next, event) {
        const { document, operationName, variableValues } = event.args;
        const operation = getOperationAST(document, operationName);
        if (operation?.operation !== "mutation") return next();
        for (const selection of operation.selectionSet.selections) {
          if (selection.kind !== Kind.FIELD) continue;
          for (const argument of selection.arguments ?? []) {
            const value = valueFromASTUntyped(
              argument.value,
              variableValues as Record<string, unknown> | undefined,
            );
            const problem = firstInvalidPattern(
              value,
              `${selection.name.value}.${argument.name.value}`,
            );
            if (problem) {
              return {
                errors: [
                  new GraphQLError(problem, {
                    nodes: [argument],
                    path: [selection.alias?.value ?? selection.name.value],
                    extensions: { code: "BADRX" },
                  }),
                ],
                data: null,
              };
            }
          }
        }
        return next();
      },
    },
  },
};

/** The first REGEX condition under `value` that JavaScript cannot compile, described. */
export function firstInvalidPattern(value: unknown, path: string): string | undefined {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const problem = firstInvalidPattern(value[i], `${path}[${i}]`);
      if (problem) return problem;
    }
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (record.operator === "REGEX") {
    const patterns = [record.value, ...(Array.isArray(record.values) ? record.values : [])];
    for (const pattern of patterns) {
      if (typeof pattern !== "string") continue;
      try {
        compilePattern(pattern, record.caseInsensitive === true);
      } catch (error) {
        return `${path}: REGEX pattern ${JSON.stringify(pattern)} is not a valid ECMAScript regular expression (u flag): ${(error as Error).message}`;
      }
    }
  }
  for (const [key, child] of Object.entries(record)) {
    const problem = firstInvalidPattern(child, `${path}.${key}`);
    if (problem) return problem;
  }
  return undefined;
}
