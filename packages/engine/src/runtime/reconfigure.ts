/**
 * What changes between two configurations of a running interface, so that applying the
 * new one touches only that: peers removed, added or changed (and how), a new private
 * key, and the first interface key that cannot change without a restart.
 * @module
 */
import type { PeerConfig, TaltunConfig } from "../config/config.js";
import { formatIpNet } from "../protocol/address.js";
import { encodeKey, keysEqual } from "../protocol/keys.js";

/** How one peer changed. */
export interface PeerDiff {
  was: PeerConfig;
  now: PeerConfig;
  allowedIps: boolean;
  presharedKey: boolean;
  endpoint: boolean;
  persistentKeepalive: boolean;
}

/** The difference between a running configuration and a new one. */
export interface ConfigDiff {
  /** The first interface key whose change needs a restart, if any. */
  restartKey?: string;
  /** The new private key, when it changed. */
  privateKey?: Uint8Array;
  removed: PeerConfig[];
  added: PeerConfig[];
  changed: PeerDiff[];
}

const nets = (p: PeerConfig) => p.allowedIps.map(formatIpNet).join();
const samePsk = (a: Uint8Array | null, b: Uint8Array | null) => (a && b ? keysEqual(a, b) : a === b);

/** The first interface key a running tunnel cannot take a new value of. */
function restartKey(a: TaltunConfig["interface"], b: TaltunConfig["interface"]): string | undefined {
  if (a.tunName !== b.tunName) return "tun_name";
  if (formatIpNet(a.vip) !== formatIpNet(b.vip)) return "vip";
  if (a.mtu !== b.mtu) return "mtu";
  if (a.localAddr.host !== b.localAddr.host || a.localAddr.port !== b.localAddr.port) return "local_addr";
  if (a.workers !== b.workers) return "workers";
  if (`${a.metricsAddr?.host}:${a.metricsAddr?.port}` !== `${b.metricsAddr?.host}:${b.metricsAddr?.port}`) return "metrics_addr";
  return undefined;
}

/** Compares two configurations; peers are the same peer when their public keys are equal. */
export function diffConfig(old: TaltunConfig, next: TaltunConfig): ConfigDiff {
  const before = new Map(old.peers.map((p) => [encodeKey(p.publicKey), p]));
  const after = new Set(next.peers.map((p) => encodeKey(p.publicKey)));
  const diff: ConfigDiff = {
    restartKey: restartKey(old.interface, next.interface),
    privateKey: keysEqual(old.interface.privateKey, next.interface.privateKey) ? undefined : next.interface.privateKey,
    removed: [...before].filter(([id]) => !after.has(id)).map(([, p]) => p),
    added: [],
    changed: [],
  };
  for (const now of next.peers) {
    const was = before.get(encodeKey(now.publicKey));
    if (!was) {
      diff.added.push(now);
      continue;
    }
    const d: PeerDiff = {
      was,
      now,
      allowedIps: nets(was) !== nets(now),
      presharedKey: !samePsk(was.presharedKey, now.presharedKey),
      endpoint: was.endpoint !== now.endpoint,
      persistentKeepalive: was.persistentKeepalive !== now.persistentKeepalive,
    };
    if (d.allowedIps || d.presharedKey || d.endpoint || d.persistentKeepalive) diff.changed.push(d);
  }
  return diff;
}
