// GraphQL Code Generator: each console operation's result and variables, and a typed document
// that is the operation's text (documentMode "string": the bundle carries no GraphQL parser).
//   npm run generate   (make console-assets runs it, then tsc --noEmit, then esbuild)
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../../schema.graphql",
  documents: ["operations/*.graphql"],
  generates: {
    "src/generated/graphql.ts": {
      plugins: ["typescript-operations", "typed-document-node"],
      config: {
        // Date is "YYYY-MM-DD", Decimal an exact decimal string: both stay strings (money is
        // never parsed into a JS number for sums; the console only formats it)
        scalars: { Date: "string", DateTime: "string", Decimal: "string" },
        strictScalars: true,
        useTypeImports: true,
        documentMode: "string",
      },
    },
  },
};

export default config;
