import {
  type ArgumentNode,
  type DocumentNode,
  GraphQLError,
  valueFromASTUntyped,
  visit,
} from "postgraphile/graphql";

/** The most rows one `first` or `last` argument may ask for. */
export const MAX_PAGE_SIZE = 1_000;

// A document's `first`/`last` arguments, found once per parsed document:
// grafserv reuses the parsed document of a query text it has seen, so a
// screen's query is walked once, not on every request.
const pageArguments = new WeakMap<DocumentNode, ArgumentNode[]>();

function pageArgumentsOf(document: DocumentNode): ArgumentNode[] {
  let found = pageArguments.get(document);
  if (!found) {
    const list: ArgumentNode[] = [];
    visit(document, {
      Argument(argument) {
        if (argument.name.value === "first" || argument.name.value === "last") list.push(argument);
      },
    });
    pageArguments.set(document, (found = list));
  }
  return found;
}

/**
 * A page is at most MAX_PAGE_SIZE rows: a document asking for more with
 * `first` or `last` (literal or variable, anywhere in it) fails with
 * PAGE_TOO_LARGE before anything runs, so one request cannot make the
 * server build an answer of arbitrary size. Without either argument a
 * connection returns every row the caller may read, which RLS bounds by
 * their teams' data.
 */
export const PageSizePlugin: GraphileConfig.Plugin = {
  name: "PageSizePlugin",
  version: "0.1.0",
  grafast: {
    middleware: {
      execute(next, event) {
        const { document, variableValues } = event.args;
        const errors: GraphQLError[] = [];
        for (const argument of pageArgumentsOf(document)) {
          const value = valueFromASTUntyped(
            argument.value,
            variableValues as Record<string, unknown> | undefined,
          );
          if (typeof value === "number" && value > MAX_PAGE_SIZE) {
            errors.push(
              new GraphQLError(
                `${argument.name.value}: ${value} is more than the largest page, ${MAX_PAGE_SIZE} rows; page with after/before cursors`,
                { nodes: [argument], extensions: { code: "PAGE_TOO_LARGE" } },
              ),
            );
          }
        }
        return errors.length > 0 ? { errors } : next();
      },
    },
  },
};
