// GraphQL Code Generator: types for schema.graphql and a typed document per example operation.
//   npm run generate   (make test-clients runs it, then tsc)
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../../../schema.graphql",
  documents: ["../../operations/*.graphql"],
  generates: {
    // every schema type (inputs, enums, objects), for code that builds or stores them
    "src/generated/schema.ts": {
      plugins: ["typescript"],
      config: {
        scalars: { Date: "string", DateTime: "string", Decimal: "string" },
        strictScalars: true,
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
    // each operation's result and variables, and its typed document (typescript-operations 6
    // is standalone: it emits the enums and inputs the operations use itself)
    "src/generated/graphql.ts": {
      plugins: ["typescript-operations", "typed-document-node"],
      config: {
        // Date is "YYYY-MM-DD", Decimal an exact decimal string ("199.0857"): keep both as
        // strings (parse Decimal with a decimal library, never as a JS number)
        scalars: {
          Date: "string",
          DateTime: "string",
          Decimal: "string",
        },
        strictScalars: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
