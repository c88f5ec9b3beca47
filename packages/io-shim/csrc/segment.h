/* segment.h - cutting TUN offload super-packets into plain IP packets (segment.c). */
#ifndef TALTUN_SEGMENT_H
#define TALTUN_SEGMENT_H

#include <stdint.h>

/* How many IP packets the packet at pkt (virtio-net header first, len bytes in all) makes:
 * 1 without GSO, ceil(payload / gso_size) for TCP/UDP GSO; -1 when malformed. */
int32_t tt_segment_count(const uint8_t *pkt, uint32_t len);

/* Writes IP packet `index` of pkt to out (cap bytes): its length, -EMSGSIZE when it does
 * not fit in cap, -EINVAL when pkt is malformed. */
int32_t tt_segment_one(const uint8_t *pkt, uint32_t len, uint32_t index, uint8_t *out, uint32_t cap);

/* GRO for TUN writes: merges pkts[0] and the TCP segments after it that continue its flow
 * (same headers, contiguous sequence numbers, valid checksums, equal sizes but the last)
 * into one virtio-net GSO packet at out (cap bytes). Returns its length (vnet header
 * included) and sets *used to the packets merged; 0 when fewer than two merge. A NULL
 * entry in pkts ends a run. */
uint32_t tt_coalesce(const uint8_t *const *pkts, const uint32_t *lens, uint32_t n, uint8_t *out, uint32_t cap, uint32_t *used);

#endif
