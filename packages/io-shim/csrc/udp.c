/* udp.c - UDP sockets and recvmmsg/sendmmsg batches straight into caller memory.
 * Sockets are non-blocking: workers wait in tt_poll_wait, never inside a batch call. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mem.h"
#include "slot.h"
#include "taltun_io.h"

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

int32_t tt_udp_open(int32_t family, const uint8_t *addr16, int32_t port, int32_t flags, int32_t rcvbuf, int32_t sndbuf)
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

typedef union {
	char buf[CMSG_SPACE(sizeof(int))];
	struct cmsghdr align;
} tt_ctl;

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
		if (b->segs) {
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
		if (b->segs) {
			uint32_t seg = 0;
			struct msghdr *h = &msgs[i].msg_hdr;
			for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
				if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
					int v;
					memcpy(&v, CMSG_DATA(c), sizeof(v));
					seg = (uint32_t)v;
				}
			}
			tt_put_u32(b->segs, i, seg);
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

/* A coalesced message the kernel refused (segments over the path MTU, a device without
 * UDP segmentation): send its packets one by one instead. Returns how many it consumed. */
static uint32_t send_unsegmented(int fd, const struct msghdr *h, uint32_t *err)
{
	for (size_t k = 0; k < h->msg_iovlen; k++) {
		struct msghdr one = {.msg_name = h->msg_name, .msg_namelen = h->msg_namelen, .msg_iov = &h->msg_iov[k], .msg_iovlen = 1};
		ssize_t r;
		do
			r = sendmsg(fd, &one, MSG_DONTWAIT);
		while (r < 0 && errno == EINTR);
		if (r < 0) {
			*err = (uint32_t)errno;
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
				return (uint32_t)k; /* the rest is not consumed: the caller retries it */
		}
	}
	return (uint32_t)h->msg_iovlen;
}

static int same_peer(uint64_t addrs, uint32_t i, uint32_t j)
{
	return memcmp(tt_ptr(addrs + (uint64_t)i * TT_ADDR_SIZE), tt_ptr(addrs + (uint64_t)j * TT_ADDR_SIZE),
		      TT_ADDR_SIZE) == 0;
}

int32_t tt_udp_send_batch(uint64_t cb)
{
	tt_batch *b = tt_ptr(cb);
	b->err = 0;
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
	uint32_t slots_in[TT_MAX_BATCH]; /* packets carried by each message */
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
			/* A GSO run: same peer, every segment but the last exactly len bytes. */
			while (j < n && same_peer(b->addrs, i, j) && iov[j].iov_len > 0 && iov[j].iov_len <= len &&
			       total + iov[j].iov_len <= TT_GSO_MAX_BYTES) {
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
		if (seg) {
			memset(&ctl[m], 0, sizeof(ctl[m]));
			h->msg_control = ctl[m].buf;
			h->msg_controllen = CMSG_SPACE(sizeof(uint16_t));
			struct cmsghdr *c = CMSG_FIRSTHDR(h);
			c->cmsg_level = SOL_UDP;
			c->cmsg_type = UDP_SEGMENT;
			c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
			uint16_t s = (uint16_t)seg;
			memcpy(CMSG_DATA(c), &s, sizeof(s));
		}
		slots_in[m++] = j - i;
		i = j;
	}
	uint32_t sent = 0, done = 0;
	while (sent < m) {
		int r = sendmmsg(b->fd, msgs + sent, m - sent, MSG_DONTWAIT);
		if (r < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			b->err = (uint32_t)e;
			if (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS)
				break;
			if (fatal_send_errno(e)) {
				if (done == 0) {
					b->count = 0;
					return -e;
				}
				break;
			}
			if (slots_in[sent] > 1 && (e == EINVAL || e == EMSGSIZE || e == EIO)) {
				uint32_t k = send_unsegmented(b->fd, &msgs[sent].msg_hdr, &b->err);
				done += k;
				if (k < slots_in[sent])
					break; /* the socket buffer is full: the rest waits for the caller */
			} else {
				done += slots_in[sent]; /* dropped: one message the kernel refused */
			}
			sent++;
			continue;
		}
		for (int k = 0; k < r; k++)
			done += slots_in[sent++];
	}
	b->count = done;
	return (int32_t)done;
}
