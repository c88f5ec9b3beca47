import { describe, expect, it } from "vitest";

describe("@taltun/engine/protocol, the pure core", () => {
  it("is importable on its own and holds the protocol, the tables, the transport path and the Device, not the runtime", async () => {
    const core = await import("@taltun/engine/protocol");
    for (const name of ["Device", "prepareSeal", "prepareOpen", "finishOpen", "SharedTables", "AllowedIps", "createInitiation", "CookieChecker"]) {
      expect(core, name).toHaveProperty(name);
    }
    for (const name of ["startInterface", "uapiListen", "createLogger", "validateConfig"]) expect(core, name).not.toHaveProperty(name);
  });
});
