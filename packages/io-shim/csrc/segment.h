/* segment.h - cutting TUN offload super-packets into plain IP packets (segment.c). */
#ifndef TALTUN_SEGMENT_H
#define TALTUN_SEGMENT_H

#include <stdint.h>

/* How many IP packets the packet at pkt (virtio-net header first, len bytes in all) makes:
 * 1 without GSO, ceil(payload / gso_size) for TCP/UDP GSO; -1 when malformed. */
int32_t tt_segment_count(const uint8_t *pkt, uint32_t len);

/* Writes IP packet `index` of pkt to out (cap bytes): its length, or -1 when it does not
 * fit or pkt is malformed. */
int32_t tt_segment_one(const uint8_t *pkt, uint32_t len, uint32_t index, uint8_t *out, uint32_t cap);

#endif
