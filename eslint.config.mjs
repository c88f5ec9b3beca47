// One lint configuration for the workspace: ESLint's and typescript-eslint's recommended
// rules, with the few exceptions this code base makes on purpose.
import js from "@eslint/js";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/dist/**", "**/build/**", "**/node_modules/**", "**/prebuilds/**", "packages/wasm-crypto/assembly/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      // Unused arguments named with a leading underscore are deliberate (interfaces, callbacks).
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
      // The Noise code destructures key pairs of which one is reassigned and one is not.
      "prefer-const": ["error", { destructuring: "all" }],
    },
  },
  {
    // Ambient declarations (wasm-crypto's WebAssembly types) merge with the DOM library's:
    // global `var`s, references between declaration files and marker interfaces are their form.
    files: ["**/*.d.ts"],
    rules: { "no-var": "off", "@typescript-eslint/triple-slash-reference": "off", "@typescript-eslint/no-empty-object-type": "off" },
  },
);
