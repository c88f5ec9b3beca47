/**
 * Tunnel MTUs beyond 2 KiB (issue 9): with `mtu = 9000`, 65000 and the largest the
 * configuration accepts (MAX_MTU, 65455) on both ends,
 * pings that fill the MTU (not fragmented inside the tunnel) and a checksum-verified TCP
 * transfer pass both ways. The WireGuard datagrams themselves are larger than the 1500-byte
 * underlay and are fragmented by the kernel below the tunnel, as with any UDP.
 */
import { MAX_MTU } from "@taltun/engine";
import { afterAll, describe, expect, it } from "vitest";
import { Lab, requireLabPreconditions } from "./netns.js";
import { taltunPair } from "./taltun.js";
import { pingOk, verifiedTransfer } from "./transfer.js";

describe("large tunnel MTUs", () => {
  const labs: Lab[] = [];
  afterAll(async () => {
    for (const lab of labs) await lab.close();
  });

  for (const [mtu, net] of [[9000, 101], [65000, 102], [MAX_MTU, 103]] as const) {
    it(`carries MTU-sized pings and a verified TCP transfer both ways at MTU ${mtu}`, async () => {
      requireLabPreconditions();
      const lab = new Lab(`mtu${mtu}`);
      labs.push(lab);
      const hub = lab.netns("hub");
      const spoke = lab.netns("spoke");
      lab.link(hub, `198.18.${net}.1/24`, spoke, `198.18.${net}.2/24`, ["vs", "veth0"]);
      const pair = await taltunPair(lab, hub, spoke, net, undefined, mtu);
      expect(lab.exec(hub, ["ip", "-j", "link", "show", pair.hubIf])).toContain(`"mtu":${mtu}`);
      // The largest ICMP echo that fits the MTU, with "don't fragment": it must cross whole.
      const size = String(mtu - 28);
      await pingOk(lab, spoke, pair.hubVip, 1);
      for (const [from, to] of [[spoke, pair.hubVip], [hub, pair.spokeVip]] as const) {
        expect(lab.exec(from, ["ping", "-c", "3", "-i", "0.2", "-W", "2", "-M", "do", "-s", size, to])).toMatch(/3 received/);
      }
      for (const [server, client, addr] of [[hub, spoke, pair.hubVip], [spoke, hub, pair.spokeVip]] as const) {
        const t = await verifiedTransfer(lab, server, client, addr, 8 << 20);
        expect(t.received).toBe(t.sent);
      }
    });
  }
});
