/** What `taltun up --check` prints: the validated configuration, with no secret in it. */
import { type TaltunConfig, encodeKey, formatHostPort, formatIpNet } from "@taltun/engine";

/** A few lines describing a validated configuration (public keys only). */
export function summarize(c: TaltunConfig): string {
  const i = c.interface;
  const lines = [
    `configuration ok: ${i.tunName}`,
    `  mode: ${i.mode}, udp ${formatHostPort(i.localAddr)}`,
    `  vip: ${formatIpNet(i.vip)}, mtu ${i.mtu}, workers ${i.workers}, log level ${i.logLevel}`,
    `  public key: ${encodeKey(i.publicKey)}`,
    `  routes: ${i.routes.map(formatIpNet).join(", ") || "none"}`,
    `  metrics: ${i.metricsAddr ? `http://${formatHostPort(i.metricsAddr)}/metrics` : "off"}`,
  ];
  for (const p of c.peers) {
    lines.push(
      `  peer ${encodeKey(p.publicKey)}${p.name === null ? "" : ` (${p.name})`}`,
      `    endpoint: ${p.endpoint ?? "(none)"}, allowed ips: ${p.allowedIps.map(formatIpNet).join(", ")}` +
        `${p.persistentKeepalive ? `, keepalive ${p.persistentKeepalive} s` : ""}${p.presharedKey ? ", preshared key set" : ""}`,
    );
  }
  return lines.join("\n") + "\n";
}
