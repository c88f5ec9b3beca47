/**
 * When the device is "under load" (whitepaper §5.3, §5.4.7): then every initiation and
 * response must carry a valid MAC2, and one without gets a cookie reply instead of any DH.
 * As wireguard-go decides it, from two signs, and for UNDER_LOAD_AFTER_TIME after the last:
 *
 * - the rate of MAC1-valid handshake messages over the last second is above the device's
 *   threshold (those the control plane handled, and those the workers answered or dropped
 *   themselves, which the control loop reports: one rate whoever did the work);
 * - a handshake ring was at least RING_LOAD_FRACTION full when the control plane drained it
 *   (wireguard-go: its handshake queue at 1/8 of its size).
 *
 * The verdict is published in the cookie record, where the workers read it.
 * @module
 */
import { setUnderLoad } from "../tables/cookie-record.js";
import type { DeviceState } from "./state.js";

/** How long the device stays under load after the last sign of it (ms; wireguard-go's UnderLoadAfterTime). */
export const UNDER_LOAD_AFTER_TIME = 1000;
/** A ring this full when drained means the control plane is falling behind. */
export const RING_LOAD_FRACTION = 1 / 8;

/**
 * Record `n` MAC1-valid handshake messages at `now` (0: just look at the time), with
 * `backlog` true when a ring was over RING_LOAD_FRACTION full; returns (and publishes)
 * whether the device is under load.
 */
export function noteHandshakes(d: DeviceState, now: number, n: number, backlog = false): boolean {
  const busy = n > 0 ? d.load.record(now, n) : d.load.underLoad(now);
  if (busy || backlog) d.underLoadUntil = Math.max(d.underLoadUntil, now + UNDER_LOAD_AFTER_TIME);
  const on = now < d.underLoadUntil;
  if (on !== d.underLoadPublished) {
    d.underLoadPublished = on;
    setUnderLoad(d.tables, on);
  }
  return on;
}
