/**
 * Packets that wait for a session: the first packets to a peer (a ping, a TCP SYN) arrive
 * before the handshake they trigger has completed. Like WireGuard's staged queue, a
 * worker keeps a few of them, in order, in its own slots of the shared memory, and sends
 * them once the control plane reports a new session. Bounded: when full, the oldest goes.
 * Each packet remembers its peer slot's generation, so a packet held for a peer that was
 * removed is never sent to whoever gets the slot next.
 */
import { STAGE_SLOTS } from "./regions.js";

export { STAGE_SLOTS };

export class Staging {
  /** Slot numbers, oldest first. */
  private readonly order = new Int32Array(STAGE_SLOTS);
  private readonly peer = new Int32Array(STAGE_SLOTS);
  private readonly generation = new Int32Array(STAGE_SLOTS);
  private readonly length = new Uint32Array(STAGE_SLOTS);
  private readonly free: number[] = [];
  count = 0;

  /**
   * @param base offset of STAGE_SLOTS * stride bytes of the worker's own memory
   * @param stride bytes per slot (the worker's packet slot size)
   */
  constructor(
    private readonly u8: Uint8Array,
    private readonly base: number,
    private readonly stride: number,
  ) {
    for (let s = STAGE_SLOTS - 1; s >= 0; s--) this.free.push(s);
  }

  /** Copies a packet in. Returns false when the oldest packet had to make room (a drop). */
  add(src: number, length: number, peer: number, generation: number): boolean {
    let dropped = false;
    if (this.count === STAGE_SLOTS) {
      this.free.push(this.order[0]);
      this.order.copyWithin(0, 1, this.count--);
      dropped = true;
    }
    const slot = this.free.pop()!;
    const at = this.base + slot * this.stride;
    this.u8.copyWithin(at, src, src + length);
    this.peer[slot] = peer;
    this.generation[slot] = generation;
    this.length[slot] = length;
    this.order[this.count++] = slot;
    return !dropped;
  }

  /**
   * Offers every waiting packet, oldest first, to `take(src, length, peer, generation)`;
   * those it accepts (returns true) leave the queue, the others keep their place.
   */
  drain(take: (src: number, length: number, peer: number, generation: number) => boolean): void {
    let kept = 0;
    for (let i = 0; i < this.count; i++) {
      const slot = this.order[i];
      if (take(this.base + slot * this.stride, this.length[slot], this.peer[slot], this.generation[slot])) this.free.push(slot);
      else this.order[kept++] = slot;
    }
    this.count = kept;
  }
}
