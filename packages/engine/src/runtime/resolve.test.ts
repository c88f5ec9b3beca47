import { describe, expect, it } from "vitest";
import { resolveEndpoint } from "./resolve.js";

describe("resolveEndpoint", () => {
  it("resolves host names to numeric endpoints", async () => {
    expect(await resolveEndpoint("localhost:51820")).toMatch(/^(127\.0\.0\.1:51820|\[::1\]:51820)$/);
    expect(await resolveEndpoint("[fd00::1]:7")).toBe("[fd00::1]:7");
    await expect(resolveEndpoint("no-such-host.invalid:1")).rejects.toThrow(/cannot resolve/);
  });
});
