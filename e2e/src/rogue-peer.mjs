// A WireGuard peer of the test's own making (rogue-peer.test.ts): it is a configured peer
// of the hub and does a real Noise IKpsk2 handshake with it (the engine's pure protocol
// code, @taltun/engine/protocol), then seals transport messages with node:crypto's
// ChaCha20-Poly1305 at counters and with contents no honest peer would send. Each run is
// one fresh session and one phase:
//
//   window      counters 0, 2^40, then ones inside and beyond the replay window behind it
//   limit       counters at and above REJECT_AFTER_MESSAGES, then the last one below it
//   keepalives  N empty messages (argument), paced so the hub's socket buffer holds them
//   source      inner packets from a foreign tunnel address, then one from its own
//
// Inner packets are IPv4 UDP to HUB_VIP:PORT whose payload names the message ("evil" for
// the foreign ones). Prints {"handshakeMs": n, "sent": [{"counter": "...", "payload": "..."}], ...}.
// Usage: node rogue-peer.mjs HUB_ADDR HUB_PORT HUB_PUBLIC_KEY PRIVATE_KEY VIP HUB_VIP PORT FOREIGN_VIP PHASE [N]
import { createCipheriv, randomInt } from "node:crypto";
import { createSocket } from "node:dgram";
import {
  CookieGenerator,
  consumeResponse,
  createInitiation,
  decodeResponse,
  parseKey,
  precomputeStaticStatic,
  publicKeyFrom,
  REJECT_AFTER_MESSAGES,
  REPLAY_WINDOW_SIZE,
} from "@taltun/engine/protocol";

const [hubAddr, hubPort, hubKey, privateKey, vip, hubVip, port, foreignVip, phase, nArg] = process.argv.slice(2);
setTimeout(() => {
  console.error("rogue-peer: timed out");
  process.exit(3);
}, 30_000).unref();

const local = { privateKey: parseKey(privateKey, "private key"), publicKey: null };
local.publicKey = publicKeyFrom(local.privateKey);
const remoteStatic = parseKey(hubKey, "hub public key");
const secrets = { remoteStatic, presharedKey: new Uint8Array(32), staticStatic: precomputeStaticStatic(local, remoteStatic) };
const sock = createSocket("udp4");
const send = (bytes) => new Promise((resolve, reject) => sock.send(bytes, Number(hubPort), hubAddr, (e) => (e ? reject(e) : resolve())));

/** Initiates, and resolves to the session's send key and the hub's index once the response is in. */
function handshake() {
  const localIndex = randomInt(1, 2 ** 32 - 1);
  const { message, state } = createInitiation(local, secrets, localIndex, Date.now());
  new CookieGenerator(remoteStatic).addMacs(message, performance.now());
  return new Promise((resolve, reject) => {
    sock.on("message", function onMessage(m) {
      if (m.length !== 92 || m.readUInt32LE(0) !== 2 || m.readUInt32LE(8) !== localIndex) return;
      sock.off("message", onMessage);
      try {
        const keys = consumeResponse(state, local, secrets, new Uint8Array(m));
        resolve({ sendKey: keys.send, receiver: decodeResponse(new Uint8Array(m)).senderIndex });
      } catch (e) {
        reject(e);
      }
    });
    send(message).catch(reject);
  });
}

function checksum(b) {
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i] << 8) | (b[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IPv4 UDP packet from `src` to HUB_VIP:PORT carrying `text` (UDP checksum 0: none). */
function udpPacket(src, text) {
  const payload = Buffer.from(text);
  const p = Buffer.alloc(28 + payload.length);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = 64;
  p[9] = 17;
  p.set(src.split(".").map(Number), 12);
  p.set(hubVip.split(".").map(Number), 16);
  p.writeUInt16BE(checksum(p.subarray(0, 20)), 10);
  p.writeUInt16BE(40000, 20);
  p.writeUInt16BE(Number(port), 22);
  p.writeUInt16BE(8 + payload.length, 24);
  p.set(payload, 28);
  return p;
}

/** A transport message (whitepaper §5.4.6) sealing `plain` at `counter` (bigint). */
function transport(session, counter, plain) {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64LE(counter, 4);
  const c = createCipheriv("chacha20-poly1305", session.sendKey, nonce, { authTagLength: 16 });
  const sealed = Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
  const header = Buffer.alloc(16);
  header.writeUInt32LE(4, 0);
  header.writeUInt32LE(session.receiver, 4);
  header.writeBigUInt64LE(counter, 8);
  return Buffer.concat([header, sealed]);
}

const started = performance.now();
const session = await handshake();
const handshakeMs = Math.round(performance.now() - started);
const sent = [];
/** Sends one inner packet and records what it was; a pause lets the hub take them in order. */
async function data(counter, payload, src = vip) {
  await send(transport(session, counter, udpPacket(src, payload)));
  sent.push({ counter: String(counter), payload });
  await new Promise((r) => setTimeout(r, 5));
}

const far = 2n ** 40n;
const window = BigInt(REPLAY_WINDOW_SIZE);
if (phase === "window") {
  await data(0n, "first");
  await data(far, "far-ahead");
  await data(far - 1n, "just-behind");
  await data(far - 2049n, "behind-2049");
  await data(far - (window - 1n), "inside-window");
  await data(far - window - 1n, "beyond-window");
  await data(1n, "old");
  await data(far, "repeat");
} else if (phase === "limit") {
  await data(REJECT_AFTER_MESSAGES, "at-limit");
  await data(REJECT_AFTER_MESSAGES + 1n, "above-limit");
  await data(2n ** 64n - 1n, "max-counter");
  await data(REJECT_AFTER_MESSAGES - 1n, "below-limit");
} else if (phase === "keepalives") {
  const n = Number(nArg);
  const empty = Buffer.alloc(0);
  for (let i = 0; i < n; i++) {
    await send(transport(session, BigInt(i), empty));
    // Paced: a burst of 32 then a breath, about 10,000 a second.
    if (i % 32 === 31) await new Promise((r) => setTimeout(r, 3));
  }
  sent.push({ counter: `0-${n - 1}`, payload: "" });
} else if (phase === "source") {
  for (let i = 0; i < 10; i++) await data(BigInt(i), "evil", foreignVip);
  await data(10n, "own-source");
} else throw new Error(`unknown phase ${phase}`);
sock.close(() => console.log(JSON.stringify({ handshakeMs, sent })));
