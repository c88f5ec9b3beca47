/* tuninfo.c - what a TUN device is now, asked through its fd: its name, MTU and index,
 * wherever it lives. Someone may have renamed it, moved it to another network namespace
 * (`ip link set IF netns X`, WireGuard's namespace pattern) or changed its MTU from
 * outside; a name lookup in our own namespace would miss all three. A deleted device
 * answers EBADFD, which is how a daemon learns its interface is gone. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "taltun_io.h"

/* An AF_INET datagram socket in the device's namespace (TUNGETDEVNETNS, Linux 5.2), or in
 * ours when the kernel cannot say: the socket is only a handle for interface ioctls. */
static int socket_beside(int tunfd)
{
	int ns = ioctl(tunfd, TUNGETDEVNETNS);
	if (ns < 0)
		return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int s = -1;
	if (self >= 0 && setns(ns, CLONE_NEWNET) == 0) {
		s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		int e = errno;
		if (setns(self, CLONE_NEWNET) != 0)
			abort(); /* this thread would stay in the wrong namespace: never go on */
		errno = e;
	} else if (self >= 0) {
		s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); /* no CAP_SYS_ADMIN: ours */
	}
	int e = errno;
	close(ns);
	if (self >= 0)
		close(self);
	errno = e;
	return s;
}

int32_t tt_tun_info(int32_t fd, uint8_t *out24)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return -errno;
	char name[IFNAMSIZ];
	memcpy(name, ifr.ifr_name, IFNAMSIZ);
	int s = socket_beside(fd);
	if (s < 0)
		return -errno;
	int32_t rc = 0;
	if (ioctl(s, SIOCGIFMTU, &ifr) < 0) {
		rc = -errno;
	} else {
		uint32_t mtu = (uint32_t)ifr.ifr_mtu;
		memcpy(ifr.ifr_name, name, IFNAMSIZ);
		if (ioctl(s, SIOCGIFINDEX, &ifr) < 0) {
			rc = -errno;
		} else {
			uint32_t index = (uint32_t)ifr.ifr_ifindex;
			memcpy(out24, name, 16);
			memcpy(out24 + 16, &mtu, 4);
			memcpy(out24 + 20, &index, 4);
		}
	}
	close(s);
	return rc;
}
