// Our side of the live interop test (src/wireguard-go.test.ts), run inside the test's
// network namespace: a Device and a one-packet data plane on a UDP socket at 127.0.0.1,
// peering with a real wireguard-go. It answers ICMP echo requests that arrive through the
// tunnel, and in "initiate" mode starts the handshake and pings wireguard-go's address.
// Prints one JSON line with what happened, then exits (bounded by a timer).
import dgram from "node:dgram";
import { createSharedMemory, HEAP_BASE, instantiateAead } from "@taltun/wasm-crypto";
import { Device, createTransportBatch, deviceRegionSize, finishOpen, messageType, parseEndpoint, prepareOpen, systemClock } from "../dist/index.js";

const [privB64, peerPubB64, peerPort, ourPort, mode] = process.argv.slice(2);
const OUR_IP = [100, 64, 77, 2];
const PEER_IP = [100, 64, 77, 1];
const memory = createSharedMemory(8 << 20);
const u8 = new Uint8Array(memory.buffer);
const device = new Device({ privateKey: Buffer.from(privB64, "base64"), memory, base: HEAP_BASE, clock: systemClock });
const peerEndpoint = parseEndpoint(`127.0.0.1:${peerPort}`);
const slot = device.addPeer({ publicKey: Buffer.from(peerPubB64, "base64"), endpoint: peerEndpoint, allowedIps: ["100.64.77.1/32"] });
const area = (HEAP_BASE + deviceRegionSize() + 63) & ~63;
const aead = instantiateAead(memory, area);
const batch = createTransportBatch(1, area + 16384);
const pkt = area + 16384 + 1024;
const sock = dgram.createSocket("udp4");
const result = { handshakes: [], echoRequestsAnswered: 0, echoRepliesReceived: 0, rejected: [] };

function checksum(b, start, end) {
  let sum = 0;
  for (let i = start; i < end; i += 2) sum += (b[i] << 8) | (i + 1 < end ? b[i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IPv4 ICMP echo (type 8 request, 0 reply) from src to dst. */
function icmp(type, src, dst, id, seq, payload) {
  const p = new Uint8Array(28 + payload.length);
  p.set([0x45, 0, p.length >> 8, p.length & 255, 0, 0, 0x40, 0, 64, 1, 0, 0, ...src, ...dst]);
  const c = checksum(p, 0, 20);
  p[10] = c >> 8;
  p[11] = c & 255;
  p.set([type, 0, 0, 0, id >> 8, id & 255, seq >> 8, seq & 255], 20);
  p.set(payload, 28);
  const ic = checksum(p, 20, p.length);
  p[22] = ic >> 8;
  p[23] = ic & 255;
  return p;
}

function send(bytes) {
  sock.send(bytes, Number(peerPort), "127.0.0.1");
}

function act(actions) {
  for (const a of actions) {
    if (a.type === "send") send(a.bytes);
    else if (a.type === "keypair") {
      result.handshakes.push(a.role);
      if (a.role === "initiator" && mode === "initiate") send(device.encodeTransport(slot, icmp(8, OUR_IP, PEER_IP, 0x7474, 1, new TextEncoder().encode("taltun interop")), performance.now()));
    } else if (a.type === "rejected") result.rejected.push(a.reason);
  }
}

function onTransport(msg, source) {
  u8.set(msg, pkt);
  batch.count = 1;
  batch.data[0] = pkt;
  batch.lengths[0] = msg.length;
  u8.set(source, pkt + 4096);
  batch.sources[0] = pkt + 4096;
  const n = prepareOpen(device.tables, batch, performance.now());
  aead.openBatch(batch.descPtr, n);
  finishOpen(device.tables, batch, n, device.allowedIps.snapshot);
  if (batch.lengths[0] === 0) return;
  const inner = u8.slice(pkt + 16, pkt + 16 + batch.lengths[0]);
  if (inner[9] !== 1) return;
  if (inner[20] === 0) result.echoRepliesReceived++;
  if (inner[20] === 8) {
    const id = (inner[24] << 8) | inner[25];
    const seq = (inner[26] << 8) | inner[27];
    send(device.encodeTransport(slot, icmp(0, OUR_IP, PEER_IP, id, seq, inner.subarray(28)), performance.now()));
    result.echoRequestsAnswered++;
  }
}

sock.on("message", (msg, rinfo) => {
  const bytes = new Uint8Array(msg);
  const source = parseEndpoint(`${rinfo.address}:${rinfo.port}`);
  if (messageType(bytes) === 4) onTransport(bytes, source);
  else act(device.handleHandshakeMessage(bytes, source, performance.now()));
});
const ticker = setInterval(() => act(device.tick(performance.now())), 100);
sock.bind(Number(ourPort), "127.0.0.1", () => {
  console.log("ready");
  if (mode === "initiate") act(device.initiate(slot, performance.now()));
});
setTimeout(() => {
  clearInterval(ticker);
  const stats = device.peerStats()[0];
  console.log(JSON.stringify({ ...result, rxBytes: stats.rxBytes, txBytes: stats.txBytes }));
  sock.close();
}, Number(process.env.TT_INTEROP_MS ?? 4000));
