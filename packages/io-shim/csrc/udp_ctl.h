/* udp_ctl.h - what udp.c and gro.c share: the control-message buffer of one datagram and
 * the reading of a received one's. Needs _GNU_SOURCE (struct in6_pktinfo). */
#ifndef TALTUN_UDP_CTL_H
#define TALTUN_UDP_CTL_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "taltun_io.h"

/* Room for every control message a datagram brings or takes: on receive UDP_GRO,
 * IPV6_PKTINFO (a dual-stack socket gives it, v4-mapped, for IPv4 datagrams too) and
 * IP_PKTINFO; on send UDP_SEGMENT and one of the two PKTINFOs. */
typedef union {
	char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo))];
	struct cmsghdr align;
} tt_ctl;

/* The GRO segment size (0: none) and the local address (pktinfo) of a received datagram. */
uint32_t tt_udp_read_control(struct msghdr *h, tt_local *loc);

/* tt_udp_recv_batch with a GRO area (b->gro), the block already checked (gro.c). */
int32_t tt_udp_recv_gro(tt_batch *b);

#endif
