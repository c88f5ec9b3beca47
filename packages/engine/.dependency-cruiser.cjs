// The engine's layers, lowest first. A layer may import itself and the layers below it,
// never one above: protocol < tables < transport < device < dataplane < config < log <
// uapi < runtime < the package entry points. `pnpm --filter @taltun/engine run lint` checks it.
const layers = ["protocol", "tables", "transport", "device", "dataplane", "config", "log", "uapi", "runtime"];
const above = (layer) => layers.slice(layers.indexOf(layer) + 1);
// The pure core: no I/O, no threads, no logger; usable without the data plane.
const pure = ["protocol", "tables", "transport", "device"];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...layers.slice(0, -1).map((layer) => ({
      name: `${layer}-imports-no-upper-layer`,
      comment: `${layer}/ sits below ${above(layer).join(", ")}: it must not import them`,
      severity: "error",
      from: { path: `^src/${layer}/` },
      to: { path: `^src/(${above(layer).join("|")})/` },
    })),
    {
      name: "pure-core-uses-no-node-module-but-crypto",
      comment: "protocol/, tables/, transport/ and device/ do no I/O: of Node's modules only node:crypto (X25519 through OpenSSL, 3.4x @noble/curves)",
      severity: "error",
      from: { path: `^src/(${pure.join("|")})/` },
      to: { dependencyTypes: ["core"], pathNot: "^(node:)?crypto$" },
    },
    {
      name: "pure-core-has-no-io",
      comment: "the pure core takes nothing of io-shim but its dependency-free address codec, and no logger",
      severity: "error",
      from: { path: `^src/(${pure.join("|")})/` },
      to: { path: "(^|/)(@taltun/io-shim/(?!address)|io-shim/dist/index|pino/|src/log/)" },
    },
    {
      name: "no-circular",
      comment: "no module imports itself through others",
      severity: "error",
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    exclude: { path: "\\.test\\.ts$|test-helper\\.ts$" },
  },
};
