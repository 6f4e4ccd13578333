// ESLint for the whole tree (`npx eslint --max-warnings=0 .`, run by scripts/test.sh): typescript-eslint's
// recommended rules with type information, and Pulumi's own rules against an Output in a plain template literal
// (it renders as a warning text, not the value: pulumi.interpolate is meant).
import js from "@eslint/js";
import pulumi from "@pulumi/eslint-plugin";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/", "scripts/ollama-vendor/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts", "**/*.mts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { "@pulumi": pulumi },
    rules: {
      "@pulumi/no-output-in-template-literal": "error",
      "@pulumi/no-output-instance-in-template-literal": "error",
      // A deliberately unused binding says so with a leading underscore (a rest pattern's dropped key, a callback's
      // unused argument).
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    // Dynamic providers require their modules inside the provider methods (DESIGN.md: the closure serializer must
    // capture nothing at module scope), so require() is the rule there, not the exception.
    files: ["components/providers/**/*.ts"],
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    // Tests read plan JSON and provider payloads of many shapes; `any` there is a cast in an assertion, not a type
    // that flows into the program.
    files: ["test/**/*.ts"],
    rules: { "@typescript-eslint/no-explicit-any": "off" },
  },
  {
    files: ["**/*.js"],
    languageOptions: {
      sourceType: "commonjs",
      globals: { require: "readonly", module: "writable", process: "readonly", __dirname: "readonly", console: "readonly" },
    },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
);
