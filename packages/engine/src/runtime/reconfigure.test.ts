import { describe, expect, it } from "vitest";
import { validateConfig } from "../config/config.js";
import { encodeKey, generatePrivateKey, publicKeyFrom } from "../protocol/keys.js";
import { diffConfig } from "./reconfigure.js";

const key = () => encodeKey(generatePrivateKey());
const pub = () => encodeKey(publicKeyFrom(generatePrivateKey()));
const [a, b, c, d] = [pub(), pub(), pub(), pub()];
const own = key();

function config(peers: object[], iface: object = {}) {
  return validateConfig({
    interface: { mode: "server", tun_name: "tt0", local_addr: "0.0.0.0:51820", vip: "100.64.0.1/24", private_key: own, ...iface },
    peers,
  });
}

describe("diffConfig", () => {
  const before = config([
    { vip: "100.64.0.2", public_key: a },
    { vip: "100.64.0.3", public_key: b, persistent_keepalive: 25 },
    { vip: "100.64.0.4", public_key: c, endpoint: "198.18.0.4:51820" },
  ]);

  it("finds nothing to do in the same configuration, even with the private key sent again", () => {
    expect(diffConfig(before, config(before.peers.map((p, i) => ({ vip: `100.64.0.${i + 2}`, public_key: encodeKey(p.publicKey), ...(i === 1 ? { persistent_keepalive: 25 } : {}), ...(i === 2 ? { endpoint: "198.18.0.4:51820" } : {}) })))))
      .toEqual({ restartKey: undefined, privateKey: undefined, removed: [], added: [], changed: [] });
  });

  it("names removed, added and changed peers, and what changed about each", () => {
    const after = config([
      { vip: "100.64.0.2", public_key: a, allowed_ips: ["192.168.9.0/24"] },
      { vip: "100.64.0.3", public_key: b },
      { vip: "100.64.0.5", public_key: d },
    ]);
    const diff = diffConfig(before, after);
    expect(diff.removed.map((p) => encodeKey(p.publicKey))).toEqual([c]);
    expect(diff.added.map((p) => encodeKey(p.publicKey))).toEqual([d]);
    expect(diff.changed.map((x) => [encodeKey(x.now.publicKey), x.allowedIps, x.persistentKeepalive, x.endpoint, x.presharedKey])).toEqual([
      [a, true, false, false, false],
      [b, false, true, false, false],
    ]);
  });

  it("changes a peer's name without touching the peer (the metrics read it from the applied configuration)", () => {
    const named = config([{ vip: "100.64.0.2", public_key: a, name: "office" }, { vip: "100.64.0.3", public_key: b, persistent_keepalive: 25 }, { vip: "100.64.0.4", public_key: c, endpoint: "198.18.0.4:51820" }]);
    expect(diffConfig(before, named)).toMatchObject({ restartKey: undefined, removed: [], added: [], changed: [] });
  });

  it("asks for a restart for what a running tunnel cannot change, and reports a new private key", () => {
    expect(diffConfig(before, config([], { mtu: 1380 })).restartKey).toBe("mtu");
    expect(diffConfig(before, config([], { vip: "100.64.1.1/24" })).restartKey).toBe("vip");
    expect(diffConfig(before, config([], { local_addr: "0.0.0.0:51821" })).restartKey).toBe("local_addr");
    expect(diffConfig(before, config([], { metrics_addr: "9586" })).restartKey).toBe("metrics_addr");
    const metrics = config([], { metrics_addr: "9586" });
    expect(diffConfig(metrics, config([], { metrics_addr: "127.0.0.1:9586" })).restartKey).toBeUndefined();
    expect(diffConfig(metrics, config([], { metrics_addr: "127.0.0.1:9587" })).restartKey).toBe("metrics_addr");
    const other = key();
    expect(diffConfig(before, config([], { private_key: other })).privateKey).toBeDefined();
  });
});
