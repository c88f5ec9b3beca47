/**
 * Rekeying against stock wireguard-go in real time, too long for the test suite (REKEY_AFTER_TIME
 * is 120 s): a Taltun spoke initiates to a wireguard-go server, pings it five times a second
 * for 135 s, and must show a second handshake after ~120 s with no ping lost across it.
 *
 *   pnpm --filter @taltun/e2e run soak:rekey
 */
import { Lab, requireLabPreconditions } from "./netns.js";
import { startTaltun } from "./taltun.js";
import { pingOk } from "./transfer.js";
import { startWireguardGo, wgKeyPair, wgLatestHandshakes } from "./wireguard-go.js";

const SECONDS = 135;

requireLabPreconditions();
const lab = new Lab("rk");
try {
  const hubKeys = wgKeyPair();
  const spokeKeys = wgKeyPair();
  const hub = lab.netns("hub");
  const spoke = lab.netns("spoke");
  const hubIf = `rkh${lab.tag}`.slice(0, 15);
  lab.link(hub, "198.18.70.1/24", spoke, "198.18.70.2/24");
  await startWireguardGo(lab, hub, {
    ifname: hubIf,
    privateKey: hubKeys.privateKey,
    listenPort: 51820,
    address: "100.64.70.1/24",
    peers: [{ publicKey: spokeKeys.publicKey, allowedIps: ["100.64.70.2/32"] }],
  });
  await startTaltun(lab, spoke, {
    mode: "client",
    tunName: `rks${lab.tag}`.slice(0, 15),
    localAddr: "0.0.0.0:0",
    vip: "100.64.70.2/24",
    privateKey: spokeKeys.privateKey,
    peers: [{ vip: "100.64.70.1", publicKey: hubKeys.publicKey, endpoint: "198.18.70.1:51820", allowedIps: ["100.64.70.0/24"] }],
  });
  await pingOk(lab, spoke, "100.64.70.1", 1);
  const first = wgLatestHandshakes(lab, hub, hubIf).get(spokeKeys.publicKey) ?? 0;
  console.log(`first handshake at ${first}; pinging 5/s for ${SECONDS} s...`);
  const count = SECONDS * 5;
  const out = lab.exec(spoke, ["ping", "-q", "-c", String(count), "-i", "0.2", "-W", "2", "100.64.70.1"], undefined, (SECONDS + 30) * 1000);
  const last = wgLatestHandshakes(lab, hub, hubIf).get(spokeKeys.publicKey) ?? 0;
  const summary = out.trim().split("\n").slice(-2).join("\n");
  console.log(summary);
  console.log(`latest handshake at ${last}: ${last - first} s after the first`);
  const received = Number(/(\d+) received/.exec(out)?.[1] ?? 0);
  if (last - first < 115 || received !== count) {
    console.error(`FAILED: expected a rekey ~120 s later and ${count} replies`);
    process.exitCode = 1;
  } else {
    console.log("rekeyed against wireguard-go with no ping lost");
  }
} finally {
  await lab.close();
}
