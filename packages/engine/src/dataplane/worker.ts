/**
 * A data-plane worker thread: one SO_REUSEPORT socket and one TUN queue, in a loop of
 * poll -> read batches -> process -> write batches, until the control plane sets the
 * stop word and writes this worker's eventfd. Between batches it takes messages from the
 * control plane (a new allowed-IPs snapshot) without returning to the event loop.
 */
import { getHeapStatistics } from "node:v8";
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { BatchControl, eventfdRead, loadIoShim, pollWait } from "@taltun/io-shim";
import { instantiateAead } from "@taltun/wasm-crypto";
import { SharedTables } from "../tables/shared-tables.js";
import { shimIo } from "./batch-io.js";
import { Datapath } from "./datapath.js";
import { sharedBuffer } from "./memory-layout.js";
import { HandshakeRing } from "./ring.js";
import type { WorkerRegions } from "./regions.js";
import { STAT } from "./stats.js";

/** What the control plane hands a worker at start. */
export interface WorkerData {
  index: number;
  memory: WebAssembly.Memory;
  module: WebAssembly.Module;
  regions: WorkerRegions;
  tablesBase: number;
  ringBase: number;
  /** Where this worker's priority ring lives (handshakes we know; handshake-guard.ts). */
  priorityRingBase: number;
  /** Int32 index of the shared word the worker bumps (and notifies) to wake the control plane. */
  doorbell: number;
  /** Int32 index of the stop word. */
  stopWord: number;
  /** Int32 index of the word the control plane bumps after posting a new allowed-IPs snapshot. */
  snapshotWord: number;
  /** Int32 index of the TUN's current MTU, which the control plane follows. */
  mtuWord: number;
  /** Int32 index of the word a worker sets when its TUN queue is gone (the device was deleted). */
  tunGoneWord: number;
  udpFd: number;
  tunFd: number;
  wakeFd: number;
  /** The TUN queue carries a virtio-net header (segmentation offload). */
  tunVnet: boolean;
  /** The UDP socket has UDP_SEGMENT (GSO sends) and UDP_GRO (trains received). */
  udpGso: boolean;
  udpGro: boolean;
  mtu: number;
  /** The interface's own address, 4 or 16 bytes; null: no user-space relay (see DatapathOptions). */
  localAddress: Uint8Array | null;
  allowedIps: Int32Array;
  /** The control plane's performance.timeOrigin: worker clocks are read on its scale. */
  timeOrigin: number;
}

/** A message from the control plane. */
export type ControlMessage = { type: "allowed-ips"; snapshot: Int32Array } | { type: "udp-fd"; fd: number };

/** A worker's answer: it no longer uses the socket it had (the control plane may close it). */
export type WorkerMessage = { type: "udp-fd-applied"; fd: number };

const POLL_TIMEOUT_MS = 1000;
/** How often the worker records its heap use: the evidence that packets allocate nothing. */
const HEAP_SAMPLE_MS = 1000;
/** How often a worker retries its staged packets when nothing wakes it for them. */
const STAGED_RETRY_MS = 100;
/** Batches taken from one source before looking at the other, so neither starves. */
const BURST = 8;

function main(d: WorkerData): void {
  loadIoShim();
  const buffer = sharedBuffer(d.memory);
  const i32 = new Int32Array(buffer);
  const ring = new HandshakeRing(buffer, d.ringBase);
  const clockOffset = performance.timeOrigin - d.timeOrigin;
  let signalled = false;
  const path = new Datapath(
    {
      memory: d.memory,
      tables: SharedTables.attach(buffer, d.tablesBase),
      aead: instantiateAead(d.memory, d.regions.scratch, d.module),
      regions: d.regions,
      ring,
      priority: new HandshakeRing(buffer, d.priorityRingBase),
      udpFd: d.udpFd,
      tunFd: d.tunFd,
      tunVnet: d.tunVnet,
      udpGso: d.udpGso,
      udpGro: d.udpGro,
      mtu: d.mtu,
      localAddress: d.localAddress,
      signal: () => (signalled = true),
      io: shimIo,
    },
    d.allowedIps,
  );
  const stats = d.regions.stats >> 2;
  let nextSample = 0;
  let nextStagedRetry = 0;
  const sampleHeap = (now: number) => {
    if (now < nextSample) return;
    nextSample = now + HEAP_SAMPLE_MS;
    Atomics.store(i32, stats + STAT.heapUsedKiB, Math.round(getHeapStatistics().used_heap_size / 1024));
    Atomics.add(i32, stats + STAT.heapSamples, 1);
  };
  // A busy worker never returns to poll: it looks at the snapshot word between batches,
  // so a peer added or removed under load is routed (and source-checked) at once.
  let snapshotSeen = Atomics.load(i32, d.snapshotWord);
  const poll = new BatchControl(d.memory, d.regions.cbPoll);
  const takeMessages = () => {
    let taken = false;
    for (let m = receiveMessageOnPort(parentPort!); m; m = receiveMessageOnPort(parentPort!)) {
      const msg = m.message as ControlMessage;
      if (msg.type === "allowed-ips") path.allowedIps = msg.snapshot;
      else if (msg.type === "udp-fd") {
        path.setUdpFd(msg.fd);
        poll.setPollFds([msg.fd, d.tunFd, d.wakeFd]);
        parentPort!.postMessage({ type: "udp-fd-applied", fd: msg.fd } satisfies WorkerMessage);
      }
      taken = true;
    }
    return taken;
  };
  poll.setPollFds([d.udpFd, d.tunFd, d.wakeFd]);
  let mtu = d.mtu;
  let tunGone = false;
  poll.timeoutMs = POLL_TIMEOUT_MS;

  while (Atomics.load(i32, d.stopWord) === 0) {
    poll.count = 3;
    pollWait(poll);
    sampleHeap(performance.now());
    if (poll.ready & 4) {
      eventfdRead(d.wakeFd);
      snapshotSeen = Atomics.load(i32, d.snapshotWord);
      takeMessages();
      // A wake-up may announce a new session: send what waited for it.
      path.flushStaged(performance.now() + clockOffset);
      continue;
    }
    for (let busy = true; busy && Atomics.load(i32, d.stopWord) === 0; ) {
      busy = false;
      const now = performance.now() + clockOffset;
      const epoch = Atomics.load(i32, d.snapshotWord);
      if (epoch !== snapshotSeen && takeMessages()) snapshotSeen = epoch;
      const nowMtu = Atomics.load(i32, d.mtuWord);
      if (nowMtu !== mtu) path.setMtu((mtu = nowMtu));
      for (let b = 0; b < BURST && path.pollUdp(now) > 0; b++) busy = true;
      for (let b = 0, got = 1; b < BURST && got > 0; b++) {
        got = path.pollTun(now);
        if (got > 0) busy = true;
        // Deleted under us: tell the control plane, which stops the interface, and stop.
        if (got < 0) tunGone = true;
      }
      if (tunGone) {
        Atomics.store(i32, d.tunGoneWord, 1);
        signalled = true;
      }
      if (now >= nextStagedRetry) {
        nextStagedRetry = now + STAGED_RETRY_MS;
        path.flushStaged(now);
      }
      sampleHeap(performance.now());
      if (signalled) {
        signalled = false;
        Atomics.add(i32, d.doorbell, 1);
        Atomics.notify(i32, d.doorbell);
      }
      if (tunGone) return;
    }
  }
}

main(workerData as WorkerData);
