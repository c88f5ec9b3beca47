// Batch entry points: one call seals or opens a whole array of WireGuard transport
// descriptors (layout.ts, DESC_*). The nonce is WireGuard's: 4 zero bytes, then the 64-bit
// counter little-endian (whitepaper §5.4.6), and the AAD is empty.
//
// Every descriptor is checked against the memory's size and the instance's scratch before
// use: a hostile one gets status 0 instead of a trap halfway through the batch or a write
// over this instance's scratch. The checks cost a few compares per packet.
//
// The scratch is wiped once per batch, after the last packet (wipe.ts): as far as the largest
// keystream a packet of the batch wrote.

import { sealFast, openFast } from "./aead";
import {
  HEAP_BASE, SCRATCH_BYTES, DESC_SIZE, DESC_KEY, DESC_COUNTER_LO, DESC_COUNTER_HI,
  DESC_DATA, DESC_LENGTH, DESC_STATUS,
} from "./layout";
import { wipe, openKsBytes, SEAL_KS_BYTES } from "./wipe";

// True when [ptr, ptr+len) lies inside usable memory and outside [scratch, scratch+SCRATCH_BYTES).
@inline function usable(ptr: u32, len: u32, memEnd: u64, scratch: u32): bool {
  const end = <u64>ptr + <u64>len;
  const inMemory = ptr >= HEAP_BASE && end <= memEnd;
  const clearOfScratch = end <= <u64>scratch || <u64>ptr >= <u64>scratch + SCRATCH_BYTES;
  return inMemory && clearOfScratch;
}

export function sealBatch(scratch: usize, desc: usize, count: u32): void {
  const memEnd = <u64>memory.size() << 16;
  const s = <u32>scratch;
  for (let i: u32 = 0; i < count; i++, desc += DESC_SIZE) {
    const key = load<u32>(desc, DESC_KEY);
    const data = load<u32>(desc, DESC_DATA);
    const len = load<u32>(desc, DESC_LENGTH);
    // The sealed packet needs len + 16 bytes (the tag); len + 16 must not wrap.
    if (len > 0xffffffef || !usable(key, 32, memEnd, s) || !usable(data, len + 16, memEnd, s)) {
      store<u32>(desc, 0, DESC_STATUS);
      continue;
    }
    sealFast(scratch, key, 0, load<u32>(desc, DESC_COUNTER_LO), load<u32>(desc, DESC_COUNTER_HI), data, len, 0, 0);
    store<u32>(desc, 1, DESC_STATUS);
  }
  wipe(scratch, SEAL_KS_BYTES);
}

export function openBatch(scratch: usize, desc: usize, count: u32): u32 {
  const memEnd = <u64>memory.size() << 16;
  const s = <u32>scratch;
  let ok: u32 = 0;
  let ks: u32 = 0; // S_KS bytes written so far
  for (let i: u32 = 0; i < count; i++, desc += DESC_SIZE) {
    const key = load<u32>(desc, DESC_KEY);
    const data = load<u32>(desc, DESC_DATA);
    const len = load<u32>(desc, DESC_LENGTH);
    if (len < 16 || !usable(key, 32, memEnd, s) || !usable(data, len, memEnd, s)) {
      store<u32>(desc, 0, DESC_STATUS);
      continue;
    }
    const r = openFast(scratch, key, 0, load<u32>(desc, DESC_COUNTER_LO), load<u32>(desc, DESC_COUNTER_HI), data, len, 0, 0);
    store<u32>(desc, r, DESC_STATUS);
    ok += r;
    ks = max<u32>(ks, openKsBytes(len));
  }
  wipe(scratch, ks);
  return ok;
}
