import {
  GraphQLError,
  type ValidationContext,
  type ValidationRule,
  visit,
} from "postgraphile/graphql";

/** How much of the schema the API reveals (config: BACKEND_INTROSPECTION, BACKEND_SUGGESTIONS). */
export interface SchemaDisclosure {
  /** Who may run introspection queries: anyone, or signed-in callers only. */
  introspection: "public" | "signed-in";
  /** Whether error messages suggest names ("Did you mean ...?"). */
  suggestions: boolean;
}

const SUGGESTION = /\s*Did you mean .*\?$/s;

/** `error` without graphql-js's "Did you mean ...?" tail (itself when it has none). */
export function withoutSuggestions(error: GraphQLError): GraphQLError {
  if (!SUGGESTION.test(error.message)) return error;
  return new GraphQLError(error.message.replace(SUGGESTION, ""), {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: error.extensions,
  });
}

/** `rule`, reporting its errors without suggestions. */
function withoutRuleSuggestions(rule: ValidationRule): ValidationRule {
  return (context) =>
    rule(
      new Proxy(context, {
        get(target, property) {
          if (property === "reportError") {
            return (error: GraphQLError) => target.reportError(withoutSuggestions(error));
          }
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === "function" ? value.bind(target) : value;
        },
      }) as ValidationContext,
    );
}

function isIntrospection(document: Parameters<typeof visit>[0]): boolean {
  let found = false;
  visit(document, {
    Field(field) {
      if (field.name.value === "__schema" || field.name.value === "__type") found = true;
    },
  });
  return found;
}

/**
 * In production the schema is not advertised to strangers: anonymous
 * introspection fails with UNAUTHENTICATED (signed-in callers, such as the
 * admin UI's introspection-driven data provider, still introspect), and no
 * error message suggests field, type or argument names. Local mode keeps
 * both, so Ruru works before logging in. List it after every plugin that
 * adds validation rules.
 */
export function makeSchemaDisclosurePlugin(disclosure: SchemaDisclosure): GraphileConfig.Plugin {
  return {
    name: "SchemaDisclosurePlugin",
    version: "0.1.0",
    grafserv: {
      middleware: {
        setPreset(next, event) {
          if (!disclosure.suggestions) {
            event.validationRules.splice(
              0,
              event.validationRules.length,
              ...event.validationRules.map(withoutRuleSuggestions),
            );
          }
          return next();
        },
      },
    },
    grafast: {
      middleware: {
        execute(next, event) {
          const { contextValue, document } = event.args;
          if (
            disclosure.introspection === "signed-in" &&
            (contextValue as Grafast.Context).identity?.kind === "anonymous" &&
            isIntrospection(document)
          ) {
            return {
              errors: [
                new GraphQLError("introspection needs a signed-in caller: log in first", {
                  extensions: { code: "UNAUTHENTICATED" },
                }),
              ],
            };
          }
          return next();
        },
      },
    },
  };
}
