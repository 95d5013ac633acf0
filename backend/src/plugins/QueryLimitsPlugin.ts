import { depthLimit } from "@graphile/depth-limit";
import { GraphQLError, Kind, type ValidationRule } from "postgraphile/graphql";

export interface QueryLimits {
  /** Deepest selection allowed. */
  maxDepth: number;
  /** Lists nested in lists (connections of connections ...). */
  maxListDepth: number;
  /** Field selections in a document, fragments expanded. */
  maxSelections: number;
  /** Aliases in a document (each alias re-runs a field). */
  maxAliases: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  maxDepth: 12,
  maxListDepth: 4,
  maxSelections: 1_500,
  maxAliases: 50,
};

/**
 * Counts field selections (fragments expanded, each spread counted where it
 * is used) and aliases; a document past either limit fails validation.
 */
function selectionBudgetRule(limits: QueryLimits): ValidationRule {
  return (context) => {
    const document = context.getDocument();
    const fragments = new Map(
      document.definitions
        .filter((d) => d.kind === Kind.FRAGMENT_DEFINITION)
        .map((d) => [d.name.value, d]),
    );
    return {
      OperationDefinition(operation) {
        let selections = 0;
        let aliases = 0;
        const visit = (set: { selections: readonly any[] }, seen: Set<string>) => {
          for (const selection of set.selections) {
            if (selections > limits.maxSelections) return;
            if (selection.kind === Kind.FIELD) {
              selections++;
              if (selection.alias) aliases++;
              if (selection.selectionSet) visit(selection.selectionSet, seen);
            } else if (selection.kind === Kind.INLINE_FRAGMENT) {
              visit(selection.selectionSet, seen);
            } else if (selection.kind === Kind.FRAGMENT_SPREAD) {
              const fragment = fragments.get(selection.name.value);
              // Cycles are reported by the standard NoFragmentCycles rule.
              if (fragment && !seen.has(fragment.name.value)) {
                visit(fragment.selectionSet, new Set([...seen, fragment.name.value]));
              }
            }
          }
        };
        visit(operation.selectionSet, new Set());
        if (selections > limits.maxSelections) {
          context.reportError(
            new GraphQLError(
              `query selects more than ${limits.maxSelections} fields; split it up`,
              {
                nodes: [operation],
                extensions: { code: "QUERY_TOO_LARGE" },
              },
            ),
          );
        }
        if (aliases > limits.maxAliases) {
          context.reportError(
            new GraphQLError(`query uses more than ${limits.maxAliases} aliases`, {
              nodes: [operation],
              extensions: { code: "QUERY_TOO_LARGE" },
            }),
          );
        }
      },
    };
  };
}

/**
 * Depth and size limits, so no single document can take the server down;
 * together with the body-size limit and the per-statement timeout.
 */
export function makeQueryLimitsPlugin(
  limits: QueryLimits = DEFAULT_QUERY_LIMITS,
): GraphileConfig.Plugin {
  return {
    name: "QueryLimitsPlugin",
    version: "0.1.0",
    grafserv: {
      middleware: {
        setPreset(next, event) {
          event.validationRules.push(
            depthLimit({
              maxDepth: limits.maxDepth,
              maxListDepth: limits.maxListDepth,
              // graphql-js's getIntrospectionQuery() (every option), Ruru's and
              // ra-data-graphql's: 15 deep, `ofType` nested 9 times (TypeRef).
              maxIntrospectionDepth: 15,
              maxIntrospectionListDepth: 5,
              maxDepthByFieldCoordinates: { "__Type.ofType": 9 },
            }),
            selectionBudgetRule(limits),
          );
          return next();
        },
      },
    },
  };
}
