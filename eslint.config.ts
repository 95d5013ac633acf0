import simpleImportSort from "eslint-plugin-simple-import-sort";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: ["**/node_modules/**", "**/gen/**", "admin/dist/**", "edge/dist/**", ".fluxgate/**"],
  },
  ...tseslint.configs.recommended,
  {
    plugins: { "simple-import-sort": simpleImportSort },
    rules: {
      "simple-import-sort/imports": "error",
      "simple-import-sort/exports": "error",
      // `_`-prefixed names are deliberately unused.
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
      // Tests and glue use `any` for JSON bodies; production code avoids it.
      "@typescript-eslint/no-explicit-any": "off",
      // `declare global { namespace Grafast ... }` extends library types.
      "@typescript-eslint/no-namespace": ["error", { allowDeclarations: true }],
      // Helpers shared across folders live in scripts/lib/ (docs/decisions/0014).
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["**/__tests__/**"],
              message:
                "Another folder's test helpers: move what is shared to scripts/lib/ (docs/decisions/0014-test-databases.md).",
            },
          ],
        },
      ],
      "no-restricted-syntax": [
        "error",
        { selector: "CallExpression[callee.property.name='only']", message: "No focused tests." },
        {
          // V8 allocates such a function in the old generation, where it keeps
          // what it closes over alive until a full GC (docs/decisions/0033).
          selector:
            "AssignmentExpression[left.type='MemberExpression'] > :matches(ArrowFunctionExpression, FunctionExpression).right",
          message:
            "A function literal assigned straight to a property is pretenured by V8 and keeps what it closes over until a full GC: name it first (`const f = ...; o.f = f;`), docs/decisions/0033.",
        },
      ],
    },
  },
);
