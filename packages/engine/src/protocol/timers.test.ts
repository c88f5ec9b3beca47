import { describe, expect, it } from "vitest";
import { KEEPALIVE_TIMEOUT, REKEY_ATTEMPT_TIME, REKEY_TIMEOUT, REKEY_TIMEOUT_JITTER_MAX, ZERO_KEY_MATERIAL_AFTER } from "./constants.js";
import { PeerTimers } from "./timers.js";

describe("peer timers", () => {
  it("retransmits after REKEY_TIMEOUT plus up to 333 ms of jitter", () => {
    const timers = new PeerTimers();
    const delays = new Set<number>();
    for (let i = 0; i < 200; i++) {
      timers.handshakeInitiated(0, false);
      const d = timers.retransmitAt - REKEY_TIMEOUT;
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(REKEY_TIMEOUT_JITTER_MAX);
      delays.add(Math.round(d));
    }
    expect(delays.size).toBeGreaterThan(20); // really random
  });

  it("gives up REKEY_ATTEMPT_TIME after the first attempt and schedules zeroing", () => {
    const timers = new PeerTimers(0, () => 0);
    timers.handshakeInitiated(0, false);
    let now = 0;
    const fired: string[] = [];
    while (now < 100_000) {
      now = timers.nextDeadline();
      for (const k of timers.due(now)) {
        fired.push(k);
        if (k === "retransmit") timers.handshakeInitiated(now, true);
      }
      if (fired.at(-1) === "give-up") break;
    }
    expect(fired.filter((k) => k === "retransmit")).toHaveLength(REKEY_ATTEMPT_TIME / REKEY_TIMEOUT - 1);
    expect(now).toBe(REKEY_ATTEMPT_TIME);
    expect(timers.zeroKeysAt).toBe(REKEY_ATTEMPT_TIME + ZERO_KEY_MATERIAL_AFTER);
  });

  it("sends another keepalive when more data arrived while one was pending", () => {
    const timers = new PeerTimers();
    timers.dataReceived(0);
    timers.dataReceived(5000);
    expect(timers.due(KEEPALIVE_TIMEOUT)).toEqual(["keepalive"]);
    expect(timers.keepaliveAt).toBe(2 * KEEPALIVE_TIMEOUT);
    timers.anyAuthenticatedPacketSent();
    expect(timers.nextDeadline()).toBe(Infinity);
  });

  it("persistent keepalive follows traffic and can be switched off", () => {
    const timers = new PeerTimers(25_000);
    timers.anyAuthenticatedPacketTraversal(1000);
    expect(timers.persistentAt).toBe(26_000);
    expect(timers.due(26_000)).toEqual(["persistent-keepalive"]);
    timers.persistentInterval = 0;
    expect(timers.due(51_000)).toEqual(["persistent-keepalive"]);
    expect(timers.persistentAt).toBe(Infinity);
  });
});
