/**
 * `taltun up` reloads its file on SIGHUP (`taltun reload IFACE` sends it after checking the
 * file): a peer added and another changed while a spoke pings; the untouched spoke loses
 * no ping and keeps its session; an invalid file is refused with its error and changes
 * nothing. SIGHUP never kills the process.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Lab, requireLabPreconditions, waitFor } from "./netns.js";
import { TALTUN_CLI, type TaltunHub, taltunHub } from "./taltun.js";
import { wgKeyPair } from "./wireguard-go.js";

describe("reloading a running taltun up", () => {
  const lab = new Lab("rl");
  let net: TaltunHub;
  let file = "";

  beforeAll(async () => {
    requireLabPreconditions();
    net = await taltunHub(lab, 97, 2);
    file = `${lab.dir}/${net.hubIf}.toml`;
  });
  afterAll(() => lab.close());

  it("applies only what changed in the file, and keeps the sessions it does not change", async () => {
    const [kept, changed] = net.spokes;
    const handshakes = () => lab.exec(net.hub, ["wg", "show", net.hubIf, "latest-handshakes"]);
    const before = handshakes().split("\n").find((l) => l.startsWith(kept.keys.publicKey))!;
    const pings = lab.spawn(kept.ns, ["ping", "-c", "30", "-i", "0.1", "-W", "1", net.hubVip]);
    const newcomer = wgKeyPair();
    const toml = readFileSync(file, "utf8")
      .replace(`vip = "${changed.vip}"`, `vip = "${changed.vip}"\npersistent_keepalive = 7`)
      .concat(`\n[[peers]]\nvip = "100.64.97.50"\npublic_key = "${newcomer.publicKey}"\n`);
    writeFileSync(file, toml);
    expect(lab.exec(net.hub, ["node", TALTUN_CLI, "reload", net.hubIf])).toContain("asked pid");
    await waitFor("the new peer", 5000, () => (lab.exec(net.hub, ["wg", "show", net.hubIf, "peers"]).includes(newcomer.publicKey) ? true : undefined));
    expect(lab.exec(net.hub, ["wg", "show", net.hubIf, "persistent-keepalive"])).toContain(`${changed.keys.publicKey}\t7`);
    expect(await pings.exited).toBe(0);
    expect(pings.output()).toMatch(/30 packets transmitted, 30 received/);
    expect(handshakes()).toContain(before);
  });

  it("refuses an invalid file, with its error, and the running configuration stays", async () => {
    const peers = lab.exec(net.hub, ["wg", "show", net.hubIf, "peers"]);
    const good = readFileSync(file, "utf8");
    writeFileSync(file, good.replace('mode = "server"', 'mode = "server"\nmtu = 99999999'));
    expect(() => lab.exec(net.hub, ["node", TALTUN_CLI, "reload", net.hubIf])).toThrow(/interface\.mtu/);
    // Sent anyway (as `kill -HUP` would): the daemon refuses it too and stays up.
    const pid = Number(readFileSync(`/var/run/taltun/${net.hubIf}.pid`, "utf8"));
    process.kill(pid, "SIGHUP");
    await new Promise((r) => setTimeout(r, 1000));
    expect(lab.exec(net.hub, ["wg", "show", net.hubIf, "peers"])).toBe(peers);
    expect(net.hubProcess.output()).toMatch(/reload refused.*interface\.mtu/);
    expect(net.hubProcess.child.exitCode).toBeNull();
    writeFileSync(file, good);
  });
});
