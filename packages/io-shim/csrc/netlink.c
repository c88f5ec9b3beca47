/* netlink.c - interface configuration through rtnetlink: addresses, MTU, up/down and
 * device routes. One socket per request, a request with NLM_F_ACK, and the kernel's
 * answer returned as 0 or -errno (EEXIST, ENODEV, EPERM...). No shelling out to ip(8). */
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "taltun_io.h"

typedef struct {
	struct nlmsghdr h;
	char body[256];
} nl_req;

static void nl_init(nl_req *r, uint16_t type, uint16_t flags, const void *fixed, size_t fixed_len)
{
	memset(r, 0, sizeof(*r));
	r->h.nlmsg_len = NLMSG_LENGTH(fixed_len);
	r->h.nlmsg_type = type;
	r->h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	r->h.nlmsg_seq = 1;
	memcpy(NLMSG_DATA(&r->h), fixed, fixed_len);
}

static void nl_attr(nl_req *r, uint16_t type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->h.nlmsg_len));
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Sends one request and waits for its acknowledgement. */
static int32_t nl_talk(nl_req *r)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	int32_t rc = -EPROTO;
	/* The kernel always answers a request with NLM_F_ACK; the timeout only guards the
	 * caller's thread against the unforeseen. */
	struct timeval tv = {.tv_sec = 5};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(fd, r, r->h.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		union {
			char buf[8192];
			struct nlmsghdr align;
		} ans;
		ssize_t n = recv(fd, ans.buf, sizeof(ans.buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		size_t left = (size_t)n;
		for (struct nlmsghdr *h = &ans.align; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
			if (h->nlmsg_seq != r->h.nlmsg_seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr e;
				memcpy(&e, NLMSG_DATA(h), sizeof(e));
				rc = e.error; /* 0 is the acknowledgement, else -errno */
				goto out;
			}
			if (h->nlmsg_type == NLMSG_DONE)
				goto out;
		}
	}
out:
	close(fd);
	return rc;
}

/* if_nametoindex asks the kernel with one ioctl; a netlink dump would say the same. */
int32_t tt_link_index(const char *name)
{
	if (strlen(name) >= IFNAMSIZ || !name[0])
		return -EINVAL;
	unsigned idx = if_nametoindex(name);
	return idx ? (int32_t)idx : -errno;
}

static int32_t link_change(const char *name, unsigned flags, unsigned change, int32_t mtu)
{
	int32_t idx = tt_link_index(name);
	if (idx < 0)
		return idx;
	struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = idx, .ifi_flags = flags, .ifi_change = change};
	nl_req r;
	nl_init(&r, RTM_NEWLINK, 0, &ifi, sizeof(ifi));
	if (mtu > 0) {
		uint32_t m = (uint32_t)mtu;
		nl_attr(&r, IFLA_MTU, &m, sizeof(m));
	}
	return nl_talk(&r);
}

int32_t tt_link_set_up(const char *name, int32_t up)
{
	return link_change(name, up ? IFF_UP : 0, IFF_UP, 0);
}

int32_t tt_link_set_mtu(const char *name, int32_t mtu)
{
	if (mtu < 68 || mtu > 65535)
		return -EINVAL;
	return link_change(name, 0, 0, mtu);
}

static int check_prefix(int32_t family, int32_t prefix)
{
	if (family == AF_INET)
		return prefix >= 0 && prefix <= 32;
	if (family == AF_INET6)
		return prefix >= 0 && prefix <= 128;
	return 0;
}

int32_t tt_addr_change(const char *name, int32_t add, int32_t family, const uint8_t *addr16, int32_t prefix)
{
	if (!check_prefix(family, prefix))
		return -EINVAL;
	int32_t idx = tt_link_index(name);
	if (idx < 0)
		return idx;
	size_t alen = family == AF_INET ? 4 : 16;
	struct ifaddrmsg ifa = {
		.ifa_family = (unsigned char)family,
		.ifa_prefixlen = (unsigned char)prefix,
		/* TUN is point-to-point without ARP: duplicate detection cannot run, and would
		 * only hold the address tentative. */
		.ifa_flags = family == AF_INET6 ? IFA_F_NODAD : 0,
		.ifa_scope = RT_SCOPE_UNIVERSE,
		.ifa_index = (unsigned)idx,
	};
	nl_req r;
	nl_init(&r, add ? RTM_NEWADDR : RTM_DELADDR, add ? NLM_F_CREATE | NLM_F_EXCL : 0, &ifa, sizeof(ifa));
	nl_attr(&r, IFA_LOCAL, addr16, alen);
	nl_attr(&r, IFA_ADDRESS, addr16, alen);
	return nl_talk(&r);
}

int32_t tt_route_change(const char *name, int32_t add, int32_t family, const uint8_t *addr16, int32_t prefix)
{
	if (!check_prefix(family, prefix))
		return -EINVAL;
	int32_t idx = tt_link_index(name);
	if (idx < 0)
		return idx;
	struct rtmsg rt = {
		.rtm_family = (unsigned char)family,
		.rtm_dst_len = (unsigned char)prefix,
		.rtm_table = RT_TABLE_MAIN,
		.rtm_protocol = RTPROT_STATIC,
		.rtm_scope = add ? RT_SCOPE_LINK : RT_SCOPE_NOWHERE,
		.rtm_type = add ? RTN_UNICAST : 0,
	};
	nl_req r;
	nl_init(&r, add ? RTM_NEWROUTE : RTM_DELROUTE, add ? NLM_F_CREATE | NLM_F_EXCL : 0, &rt, sizeof(rt));
	uint32_t oif = (uint32_t)idx;
	nl_attr(&r, RTA_DST, addr16, family == AF_INET ? 4 : 16);
	nl_attr(&r, RTA_OIF, &oif, sizeof(oif));
	return nl_talk(&r);
}
