/**
 * The endpoint record and the local address beside it (the sticky source): who writes
 * which, when the local address is kept, replaced or forgotten, and that readers get both
 * from one write.
 */
import { encodeLocal } from "@taltun/io-shim/address";
import { describe, expect, it } from "vitest";
import { parseEndpoint } from "./endpoint.js";
import {
  claimPeer, copyEndpoint, endpointSequence, forgetLocal, learnLocal, LOCAL_BYTES, readEndpoint, readLocal, roamEndpoint, writeEndpoint,
} from "./peer-slot.js";
import { ENDPOINT_BYTES, PEER_SLOT_BYTES, SharedTables, sharedTablesSize } from "./shared-tables.js";

const SCRATCH = 8192;

function tables() {
  const buffer = new SharedArrayBuffer(SCRATCH + 1024);
  const t = SharedTables.create(buffer, 0, { peers: 2, keypairs: 6 });
  expect(sharedTablesSize({ peers: 2, keypairs: 6 })).toBeLessThan(SCRATCH);
  claimPeer(t, 0);
  claimPeer(t, 1);
  return t;
}

function local(address: string, ifindex = 2): Uint8Array {
  const r = new Uint8Array(LOCAL_BYTES);
  encodeLocal(r, 0, address, ifindex);
  return r;
}

/** Puts a record into the scratch area of the shared buffer; returns its offset. */
function stage(t: SharedTables, at: number, record: Uint8Array): number {
  t.u8.set(record, SCRATCH + at);
  return SCRATCH + at;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const NONE = hex(new Uint8Array(LOCAL_BYTES));

describe("peer slot: endpoint and local address", () => {
  it("lays the local address at bytes 88-111, inside the 128-byte slot, beside the endpoint", () => {
    const t = tables();
    roamEndpoint(t, 1, stage(t, 0, parseEndpoint("198.18.0.2:51820")), stage(t, 24, local("198.18.0.1", 7)));
    const slot = t.u8.subarray(t.peerWord(1, 0) * 4, t.peerWord(1, 0) * 4 + PEER_SLOT_BYTES);
    expect(hex(slot.subarray(64, 64 + ENDPOINT_BYTES))).toBe(hex(parseEndpoint("198.18.0.2:51820")));
    expect(hex(slot.subarray(88, 112))).toBe(hex(local("198.18.0.1", 7)));
    expect(slot.subarray(112).every((b) => b === 0)).toBe(true);
    expect(hex(readLocal(t, 0))).toBe(NONE); // the neighbour untouched
  });

  it("roams endpoint and local address together, writing (and bumping the sequence) only on a change", () => {
    const t = tables();
    const e = stage(t, 0, parseEndpoint("198.18.0.2:51820"));
    const l1 = stage(t, 24, local("198.18.0.1"));
    const l2 = stage(t, 48, local("198.18.0.9"));
    roamEndpoint(t, 0, e, l1);
    const seq = endpointSequence(t, 0);
    roamEndpoint(t, 0, e, l1);
    expect(endpointSequence(t, 0)).toBe(seq);
    roamEndpoint(t, 0, e, l2); // same endpoint, reached at another address
    expect(endpointSequence(t, 0)).toBe(seq + 2);
    expect(hex(readLocal(t, 0))).toBe(hex(local("198.18.0.9")));
    roamEndpoint(t, 0, e, 0); // arrived where the kernel did not say: none
    expect(hex(readLocal(t, 0))).toBe(NONE);
    // copyEndpoint gives both
    roamEndpoint(t, 0, e, l1);
    expect(copyEndpoint(t, 0, SCRATCH + 100, SCRATCH + 200)).toBe(true);
    expect(hex(t.u8.subarray(SCRATCH + 100, SCRATCH + 124))).toBe(hex(parseEndpoint("198.18.0.2:51820")));
    expect(hex(t.u8.subarray(SCRATCH + 200, SCRATCH + 224))).toBe(hex(local("198.18.0.1")));
    t.u8.fill(0xee, SCRATCH + 300, SCRATCH + 324);
    expect(copyEndpoint(t, 1, SCRATCH + 300, SCRATCH + 400)).toBe(false); // no endpoint yet
  });

  it("keeps the local address when the control plane writes the same endpoint, clears it for a new one", () => {
    const t = tables();
    roamEndpoint(t, 0, stage(t, 0, parseEndpoint("198.18.0.2:51820")), stage(t, 24, local("198.18.0.1")));
    writeEndpoint(t, 0, parseEndpoint("198.18.0.2:51820")); // a handshake from where it was
    expect(hex(readLocal(t, 0))).toBe(hex(local("198.18.0.1")));
    writeEndpoint(t, 0, parseEndpoint("198.18.0.3:51820")); // `wg set ... endpoint`, or a handshake from elsewhere
    expect(hex(readLocal(t, 0))).toBe(NONE);
    expect(hex(readEndpoint(t, 0).record)).toBe(hex(parseEndpoint("198.18.0.3:51820")));
  });

  it("learns a handshake's local address only while its source is still the peer's endpoint", () => {
    const t = tables();
    writeEndpoint(t, 0, parseEndpoint("198.18.0.2:51820"));
    learnLocal(t, 0, parseEndpoint("198.18.0.7:51820"), local("198.18.0.1")); // a worker roamed it meanwhile
    expect(hex(readLocal(t, 0))).toBe(NONE);
    const seq = endpointSequence(t, 0);
    learnLocal(t, 0, parseEndpoint("198.18.0.2:51820"), local("198.18.0.1"));
    expect(hex(readLocal(t, 0))).toBe(hex(local("198.18.0.1")));
    expect(endpointSequence(t, 0)).toBe(seq + 2);
  });

  it("forgets a refused local address only if it is still the peer's", () => {
    const t = tables();
    roamEndpoint(t, 0, stage(t, 0, parseEndpoint("198.18.0.2:51820")), stage(t, 24, local("198.18.0.1")));
    // io-shim's mark of a refused source: family cleared, address kept
    const refused = (address: string) => {
      const r = local(address);
      r[0] = r[1] = 0;
      return stage(t, 48, r);
    };
    expect(forgetLocal(t, 0, refused("198.18.0.9"))).toBe(false); // the peer moved on to .1 meanwhile
    expect(hex(readLocal(t, 0))).toBe(hex(local("198.18.0.1")));
    expect(forgetLocal(t, 0, refused("198.18.0.1"))).toBe(true);
    expect(hex(readLocal(t, 0))).toBe(NONE);
    expect(forgetLocal(t, 0, refused("198.18.0.1"))).toBe(false); // nothing left to forget
    expect(hex(readEndpoint(t, 0).record)).toBe(hex(parseEndpoint("198.18.0.2:51820"))); // the endpoint stays
  });

  it("hands a new owner of the slot neither endpoint nor local address", () => {
    const t = tables();
    roamEndpoint(t, 0, stage(t, 0, parseEndpoint("198.18.0.2:51820")), stage(t, 24, local("198.18.0.1")));
    claimPeer(t, 0);
    expect(hex(readLocal(t, 0))).toBe(NONE);
    expect(readEndpoint(t, 0).record.every((b) => b === 0)).toBe(true);
  });
});
