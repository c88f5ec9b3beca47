/* probe.c - which kernel features this machine has, found by trying them: a transient
 * TUN device in the current network namespace (gone when its fd closes) and a UDP
 * socket on loopback that is never bound to anything else. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "taltun_io.h"

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif

int32_t tt_probe(void)
{
	uint32_t f = 0;
	uint8_t out[20];
	char name[16];
	snprintf(name, sizeof(name), "ttprobe%d", (int)(getpid() % 100000));
	int fd = tt_tun_open(name, 0, out);
	if (fd >= 0) {
		f |= TT_FEAT_TUN;
		close(fd);
	}
	fd = tt_tun_open(name, TT_TUN_MULTI_QUEUE, out);
	if (fd >= 0) {
		f |= TT_FEAT_TUN_MULTI_QUEUE;
		close(fd);
	}
	fd = tt_tun_open(name, TT_TUN_VNET_HDR | TT_TUN_OFFLOAD, out);
	if (fd >= 0) {
		uint32_t mask;
		__builtin_memcpy(&mask, out + 16, 4);
		f |= TT_FEAT_TUN_VNET_HDR | TT_FEAT_TUN_OFFLOAD_TSO;
		if (mask & TUN_F_USO4)
			f |= TT_FEAT_TUN_OFFLOAD_USO;
		close(fd);
	} else if ((fd = tt_tun_open(name, TT_TUN_VNET_HDR, out)) >= 0) {
		f |= TT_FEAT_TUN_VNET_HDR;
		close(fd);
	}
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s >= 0) {
		int one = 1, seg = 1200, big = 1 << 20;
		if (setsockopt(s, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg)) == 0)
			f |= TT_FEAT_UDP_SEGMENT;
		if (setsockopt(s, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0)
			f |= TT_FEAT_UDP_GRO;
		if (setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == 0)
			f |= TT_FEAT_SO_REUSEPORT;
		if (setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) == 0)
			f |= TT_FEAT_RCVBUFFORCE;
		close(s);
	}
	return (int32_t)f;
}
