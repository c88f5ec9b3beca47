/* udp.c - UDP sockets and recvmmsg/sendmmsg batches straight into caller memory.
 * Sockets are non-blocking: workers wait in tt_poll_wait, never inside a batch call. */
#define _GNU_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mem.h"
#include "slot.h"
#include "taltun_io.h"
#include "udp_ctl.h"

/* Largest UDP payload we coalesce into one GSO send; under the 65507-byte IPv4 limit. */
#define TT_GSO_MAX_BYTES 65000u

/* Buffer sizes: as root the FORCE variants pass net.core.[rw]mem_max, which cannot be
 * raised inside a network namespace; otherwise fall back to the capped option. */
static int set_buf(int fd, int force_opt, int opt, int size)
{
	if (size <= 0)
		return 0;
	if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof(size)) == 0)
		return 0;
	return setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size)) == 0 ? 0 : -errno;
}

int32_t tt_udp_open(int32_t family, const uint8_t *addr16, int32_t port, int32_t flags, int32_t rcvbuf, int32_t sndbuf, int32_t mark)
{
	if ((family != AF_INET && family != AF_INET6) || port < 0 || port > 65535)
		return -EINVAL;
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1, rc = 0;
	if (family == AF_INET6) {
		int v6only = (flags & TT_UDP_V6ONLY) ? 1 : 0;
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) < 0)
			rc = -errno;
	}
	/* Where each datagram arrived (tt_batch.locals), for sticky source addresses: IPv6
	 * pktinfo on an IPv6 socket and IPv4 pktinfo for IPv4 datagrams, which a dual-stack
	 * socket receives too. */
	if (!rc && family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one)) < 0)
		rc = -errno;
	if (!rc && !(family == AF_INET6 && (flags & TT_UDP_V6ONLY)) && setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) < 0)
		rc = -errno;
	if (!rc && mark != 0)
		rc = tt_socket_set_mark(fd, mark);
	if (!rc && (flags & TT_UDP_REUSEPORT) && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		rc = -errno;
	if (!rc)
		rc = set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, rcvbuf);
	if (!rc)
		rc = set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, sndbuf);
	if (!rc && (flags & TT_UDP_GRO) && setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) < 0)
		rc = -errno;
	int zero = 0;
	if (!rc && (flags & TT_UDP_GSO) && setsockopt(fd, SOL_UDP, UDP_SEGMENT, &zero, sizeof(zero)) < 0)
		rc = -errno;
	if (!rc) {
		tt_addr rec = {.family = (uint16_t)family, .port = (uint16_t)port};
		memcpy(rec.addr, addr16, family == AF_INET ? 4 : 16);
		struct sockaddr_storage ss;
		socklen_t len;
		rc = tt_addr_to_sockaddr(&rec, &ss, &len);
		if (!rc && bind(fd, (struct sockaddr *)&ss, len) < 0)
			rc = -errno;
	}
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

int32_t tt_udp_port(int32_t fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	tt_addr rec;
	tt_addr_from_sockaddr(&ss, &rec);
	return rec.port;
}

/* SO_MARK (the fwmark policy routing matches on): needs CAP_NET_ADMIN; 0 clears it. */
int32_t tt_socket_set_mark(int32_t fd, int32_t mark)
{
	uint32_t m = (uint32_t)mark;
	if (fd < 0)
		return -EBADF;
	return setsockopt(fd, SOL_SOCKET, SO_MARK, &m, sizeof(m)) < 0 ? -errno : 0;
}

int32_t tt_socket_get_mark(int32_t fd, uint8_t *out4)
{
	uint32_t m = 0;
	socklen_t len = sizeof(m);
	if (fd < 0)
		return -EBADF;
	if (!out4)
		return -EFAULT;
	if (getsockopt(fd, SOL_SOCKET, SO_MARK, &m, &len) < 0)
		return -errno;
	memcpy(out4, &m, sizeof(m));
	return 0;
}

static inline void *local_at(const tt_batch *b, uint32_t i)
{
	return tt_ptr(b->locals + (uint64_t)i * TT_LOCAL_SIZE);
}

/* The GRO segment size and the local address (pktinfo) of a received datagram. IPv4
 * pktinfo wins over the v4-mapped IPv6 one: its spec_dst is the local address a reply
 * should leave from (the destination itself for unicast). */
uint32_t tt_udp_read_control(struct msghdr *h, tt_local *loc)
{
	uint32_t seg = 0;
	memset(loc, 0, sizeof(*loc));
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
			int v;
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			seg = (uint32_t)v;
		} else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memset(loc->addr, 0, sizeof(loc->addr));
			loc->family = AF_INET;
			memcpy(loc->addr, pi.ipi_spec_dst.s_addr ? &pi.ipi_spec_dst : &pi.ipi_addr, 4);
			loc->ifindex = (uint32_t)pi.ipi_ifindex;
		} else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO && loc->family != AF_INET &&
			   c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			if (IN6_IS_ADDR_V4MAPPED(&pi.ipi6_addr)) {
				loc->family = AF_INET;
				memcpy(loc->addr, pi.ipi6_addr.s6_addr + 12, 4);
			} else {
				loc->family = AF_INET6;
				memcpy(loc->addr, pi.ipi6_addr.s6_addr, 16);
			}
			loc->ifindex = pi.ipi6_ifindex;
		}
	}
	return seg;
}

int32_t tt_udp_recv_batch(uint64_t cb)
{
	tt_batch *b = tt_ptr(cb);
	b->err = 0;
	int32_t rc = tt_batch_check(b, 1);
	uint32_t n = b->count;
	if (rc < 0 || n == 0) {
		b->err = (uint32_t)-rc;
		b->count = 0;
		return rc;
	}
	b->truncated = b->trains = 0;
	if (b->gro)
		return tt_udp_recv_gro(b);
	struct mmsghdr msgs[TT_MAX_BATCH];
	struct iovec iov[TT_MAX_BATCH];
	struct sockaddr_storage names[TT_MAX_BATCH];
	tt_ctl ctl[TT_MAX_BATCH];
	memset(msgs, 0, n * sizeof(msgs[0]));
	for (uint32_t i = 0; i < n; i++) {
		iov[i].iov_base = tt_ptr(tt_slot(b, i));
		iov[i].iov_len = tt_slot_room(b, i);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &names[i];
		msgs[i].msg_hdr.msg_namelen = sizeof(names[i]);
		if (b->segs || b->locals) {
			msgs[i].msg_hdr.msg_control = ctl[i].buf;
			msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
		}
	}
	int got;
	do
		got = recvmmsg(b->fd, msgs, n, MSG_DONTWAIT, NULL);
	while (got < 0 && errno == EINTR);
	if (got < 0) {
		b->count = 0;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		b->err = (uint32_t)errno;
		return -errno;
	}
	for (uint32_t i = 0; i < (uint32_t)got; i++) {
		/* A datagram longer than the slot arrives cut to the capacity: say so, so the
		 * caller can count it rather than fail to authenticate it blindly. */
		if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
			b->err = EMSGSIZE;
		tt_put_u32(b->lengths, i, msgs[i].msg_len);
		if (b->addrs) {
			tt_addr rec;
			tt_addr_from_sockaddr(&names[i], &rec);
			memcpy(tt_ptr(b->addrs + (uint64_t)i * TT_ADDR_SIZE), &rec, TT_ADDR_SIZE);
		}
		if (b->segs || b->locals) {
			tt_local loc;
			uint32_t seg = tt_udp_read_control(&msgs[i].msg_hdr, &loc);
			if (b->segs)
				tt_put_u32(b->segs, i, seg);
			if (b->locals)
				memcpy(local_at(b, i), &loc, TT_LOCAL_SIZE);
		}
	}
	b->count = (uint32_t)got;
	return got;
}

/* Errors about the socket itself end the batch; any other error belongs to one message
 * (an unreachable peer, a too-big datagram, an IPv6 peer on an IPv4 socket:
 * EAFNOSUPPORT) and only drops that message. */
static int fatal_send_errno(int e)
{
	return e == EBADF || e == ENOTSOCK || e == EFAULT || e == EOPNOTSUPP || e == EDESTADDRREQ;
}

static int full_errno(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS;
}

/* What the kernel says when a message's source address is no longer the host's: IPv4
 * ENETUNREACH (the route lookup finds no device with it), IPv6 EINVAL, ENODEV for a
 * link-local source whose interface is gone; EADDRNOTAVAIL for good measure. The same
 * errors have other causes, so a message that gets one is tried once more without its
 * source, and only a success then lays the blame on the source. */
static int source_errno(int e)
{
	return e == EINVAL || e == EADDRNOTAVAIL || e == ENETUNREACH || e == ENODEV;
}

/* A message's control data: UDP_SEGMENT when seg > 0, and the source address in an
 * IP_PKTINFO / IPV6_PKTINFO when src is given (family 0: none). Rebuilt from scratch, so
 * a message can drop its source and be sent again. */
static void set_control(struct msghdr *h, tt_ctl *ctl, uint16_t seg, const tt_local *src)
{
	size_t len = 0;
	memset(ctl, 0, sizeof(*ctl));
	if (seg) {
		struct cmsghdr *c = (struct cmsghdr *)ctl->buf;
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
		memcpy(CMSG_DATA(c), &seg, sizeof(seg));
		len += CMSG_SPACE(sizeof(uint16_t));
	}
	if (src && src->family == AF_INET) {
		struct cmsghdr *c = (struct cmsghdr *)(ctl->buf + len);
		struct in_pktinfo pi;
		memset(&pi, 0, sizeof(pi));
		/* ipi_ifindex 0: the route to the peer picks the interface, with this source */
		memcpy(&pi.ipi_spec_dst, src->addr, 4);
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		len += CMSG_SPACE(sizeof(pi));
	} else if (src && src->family == AF_INET6) {
		struct cmsghdr *c = (struct cmsghdr *)(ctl->buf + len);
		struct in6_pktinfo pi;
		memset(&pi, 0, sizeof(pi));
		memcpy(pi.ipi6_addr.s6_addr, src->addr, 16);
		if (IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr))
			pi.ipi6_ifindex = src->ifindex; /* a link-local address means nothing without it */
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		len += CMSG_SPACE(sizeof(pi));
	}
	h->msg_control = len ? ctl->buf : NULL;
	h->msg_controllen = len;
}

static ssize_t send_one_msg(int fd, const struct msghdr *h)
{
	ssize_t r;
	do
		r = sendmsg(fd, h, MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	return r;
}

/* The source of `count` slots from `first` was refused and they went without it: say so
 * in their records (family 0, the address kept, so the caller can tell which one to
 * forget) and in the block. */
static void fell_over(tt_batch *b, uint32_t first, uint32_t count)
{
	uint16_t none = 0;
	for (uint32_t i = first; i < first + count; i++)
		memcpy(local_at(b, i), &none, sizeof(none));
	b->fallbacks += count;
}

/* Message h was refused with error e. When its source may be to blame, sends it once
 * more without the source. Returns 0 when that went (the caller falls over), else the
 * errno to go by: e, unless the retry met a full buffer or a dead socket; h's control is
 * then as it was (the source not to blame, or not alone, stays). */
static int retry_without_source(int fd, struct msghdr *h, tt_ctl *ctl, uint16_t seg, const tt_local *src, int e)
{
	if (!src || !src->family || !source_errno(e))
		return e;
	set_control(h, ctl, seg, NULL);
	if (send_one_msg(fd, h) >= 0)
		return 0;
	if (full_errno(errno) || fatal_send_errno(errno))
		e = errno;
	set_control(h, ctl, seg, src);
	return e;
}

/* A coalesced message the kernel refused (segments over the path MTU, a device without
 * UDP segmentation): send its packets one by one instead, from the same source (falling
 * over as any message does; once it failed, the rest of the run goes without it).
 * Returns how many it consumed. */
static uint32_t send_unsegmented(tt_batch *b, const struct msghdr *h, const tt_local *src, uint32_t first)
{
	tt_ctl ctl;
	int fell = 0;
	for (size_t k = 0; k < h->msg_iovlen; k++) {
		struct msghdr one = {.msg_name = h->msg_name, .msg_namelen = h->msg_namelen, .msg_iov = &h->msg_iov[k], .msg_iovlen = 1};
		const tt_local *from = fell ? NULL : src;
		set_control(&one, &ctl, 0, from);
		int e = send_one_msg(b->fd, &one) >= 0 ? -1 : retry_without_source(b->fd, &one, &ctl, 0, from, errno);
		if (e == 0)
			fell = 1;
		if (fell)
			fell_over(b, first + (uint32_t)k, 1);
		if (e > 0) {
			b->err = (uint32_t)e;
			if (full_errno(e))
				return (uint32_t)k; /* the rest is not consumed: the caller retries it */
		}
	}
	return (uint32_t)h->msg_iovlen;
}

/* Records i and j of an array of `size`-byte records (peers, local addresses) are equal. */
static int same_record(uint64_t base, uint32_t size, uint32_t i, uint32_t j)
{
	return memcmp(tt_ptr(base + (uint64_t)i * size), tt_ptr(base + (uint64_t)j * size), size) == 0;
}

int32_t tt_udp_send_batch(uint64_t cb)
{
	tt_batch *b = tt_ptr(cb);
	b->err = 0;
	b->fallbacks = 0;
	b->gso_fallbacks = 0;
	int32_t rc = tt_batch_check(b, 1);
	uint32_t n = b->count;
	if (rc == 0 && n > 0 && b->addrs == 0)
		rc = -EFAULT;
	if (rc == 0 && b->seg_size > 0xffff) /* UDP_SEGMENT takes a u16 */
		rc = -EINVAL;
	if (rc < 0 || n == 0) {
		b->err = (uint32_t)-rc;
		b->count = 0;
		return rc;
	}
	struct mmsghdr msgs[TT_MAX_BATCH];
	struct iovec iov[TT_MAX_BATCH];
	struct sockaddr_storage names[TT_MAX_BATCH];
	tt_ctl ctl[TT_MAX_BATCH];
	tt_local src[TT_MAX_BATCH];       /* source of each message, family 0 = none */
	uint16_t seg_of[TT_MAX_BATCH];    /* UDP_SEGMENT size of each message, 0 = none */
	uint32_t first[TT_MAX_BATCH];     /* first slot of each message */
	uint32_t slots_in[TT_MAX_BATCH];  /* packets carried by each message */
	uint32_t m = 0;
	memset(msgs, 0, n * sizeof(msgs[0]));
	/* Check the whole batch before sending any of it: a bad length or address is a
	 * caller bug, and reporting it without side effects keeps retries simple. */
	for (uint32_t i = 0; i < n; i++) {
		uint32_t len = tt_get_u32(b->lengths, i);
		if (len > tt_slot_limit(b, i)) {
			b->err = EINVAL;
			b->count = 0;
			return -EINVAL;
		}
		iov[i].iov_base = tt_ptr(tt_slot(b, i));
		iov[i].iov_len = len;
	}
	for (uint32_t i = 0; i < n;) {
		uint32_t len = (uint32_t)iov[i].iov_len, j = i + 1, total = len;
		if (len == 0) { /* a hole: the caller dropped this packet */
			i++;
			continue;
		}
		if ((b->flags & TT_SEND_COALESCE) && len > 0) {
			/* A GSO run: same peer and source, every segment but the last exactly len bytes. */
			while (j < n && same_record(b->addrs, TT_ADDR_SIZE, i, j) &&
			       (!b->locals || same_record(b->locals, TT_LOCAL_SIZE, i, j)) &&
			       iov[j].iov_len > 0 && iov[j].iov_len <= len && total + iov[j].iov_len <= TT_GSO_MAX_BYTES) {
				total += (uint32_t)iov[j].iov_len;
				if (iov[j++].iov_len < len)
					break;
			}
		}
		tt_addr rec;
		memcpy(&rec, tt_ptr(b->addrs + (uint64_t)i * TT_ADDR_SIZE), TT_ADDR_SIZE);
		socklen_t nlen;
		int arc = tt_addr_to_sockaddr(&rec, &names[m], &nlen);
		if (arc < 0) {
			b->err = (uint32_t)-arc;
			b->count = 0;
			return arc;
		}
		memset(&src[m], 0, sizeof(src[m]));
		if (b->locals) {
			memcpy(&src[m], local_at(b, i), TT_LOCAL_SIZE);
			if (src[m].family != rec.family) /* none, or of the other family: the kernel chooses */
				src[m].family = 0;
		}
		struct msghdr *h = &msgs[m].msg_hdr;
		h->msg_name = &names[m];
		h->msg_namelen = nlen;
		h->msg_iov = &iov[i];
		h->msg_iovlen = j - i;
		uint32_t seg = 0;
		if (j - i > 1)
			seg = len;
		else if (b->seg_size && len > b->seg_size)
			seg = b->seg_size;
		seg_of[m] = (uint16_t)seg;
		set_control(h, &ctl[m], seg_of[m], &src[m]);
		first[m] = i;
		slots_in[m++] = j - i;
		i = j;
	}
	uint32_t sent = 0, done = 0;
	while (sent < m) {
		int r = sendmmsg(b->fd, msgs + sent, m - sent, MSG_DONTWAIT);
		if (r >= 0) {
			for (int k = 0; k < r; k++)
				done += slots_in[sent++];
			continue;
		}
		if (errno == EINTR)
			continue;
		/* Message `sent` was refused: try it alone, without its source if that may be
		 * what the kernel refused (the sticky source is gone: fall over). */
		struct msghdr *h = &msgs[sent].msg_hdr;
		int e = retry_without_source(b->fd, h, &ctl[sent], seg_of[sent], &src[sent], errno);
		if (e == 0) {
			fell_over(b, first[sent], slots_in[sent]);
			done += slots_in[sent++];
			continue;
		}
		b->err = (uint32_t)e;
		if (full_errno(e))
			break;
		if (fatal_send_errno(e)) {
			if (done == 0) {
				b->count = 0;
				return -e;
			}
			break;
		}
		if (slots_in[sent] > 1 && (e == EINVAL || e == EMSGSIZE || e == EIO)) {
			b->gso_fallbacks++;
			uint32_t k = send_unsegmented(b, h, &src[sent], first[sent]);
			done += k;
			if (k < slots_in[sent])
				break; /* the socket buffer is full: the rest waits for the caller */
		} else {
			done += slots_in[sent]; /* dropped: one message the kernel refused */
		}
		sent++;
	}
	b->count = done;
	return (int32_t)done;
}
