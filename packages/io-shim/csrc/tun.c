/* tun.c - TUN devices (IFF_TUN|IFF_NO_PI, optionally multi-queue and with a vnet header
 * for segmentation offload) and batched reads/writes straight into caller memory. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mem.h"
#include "slot.h"
#include "segment.h"
#include "taltun_io.h"

/* One packet read with its virtio-net header (up to 64 KiB of TSO), and which of its
 * segments are still to be handed out: per thread, since each worker owns one queue. A
 * super-packet that does not fit in what is left of a batch continues in the next one. */
#define BOUNCE_BYTES (65536 + sizeof(struct virtio_net_hdr))
static __thread uint8_t *bounce;
static __thread uint32_t bounce_len, bounce_next, bounce_count;
static __thread int bounce_fd = -1; /* the queue the pending segments came from */

static int32_t read_segmented(tt_batch *b, uint32_t n)
{
	uint32_t done = 0;
	if (!bounce && !(bounce = malloc(BOUNCE_BYTES)))
		return -ENOMEM;
	if (bounce_fd != b->fd)
		bounce_next = bounce_count = 0; /* segments of another queue are not this one's */
	bounce_fd = b->fd;
	while (done < n) {
		if (bounce_next == bounce_count) {
			ssize_t r = read(b->fd, bounce, BOUNCE_BYTES);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				b->err = (uint32_t)errno;
				if (done == 0)
					return -errno;
				break;
			}
			int32_t c = tt_segment_count(bounce, (uint32_t)r);
			bounce_len = (uint32_t)r;
			bounce_next = 0;
			bounce_count = c > 0 ? (uint32_t)c : 0;
			if (c <= 0)
				b->err = EINVAL; /* not a packet we can cut: dropped */
			continue;
		}
		/* Each IP packet gets a slot of its own, however large the slot; one that does
		 * not fit in its slot is dropped (EMSGSIZE) and the next segment tries it. */
		int32_t len = tt_segment_one(bounce, bounce_len, bounce_next++, tt_ptr(tt_slot(b, done)), tt_slot_room(b, done));
		if (len < 0) {
			b->err = (uint32_t)-len;
			continue;
		}
		tt_put_u32(b->lengths, done++, (uint32_t)len);
	}
	return (int32_t)done;
}

/* UDP segmentation offload bits arrived in Linux 6.2; older headers lack them. */
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

/* Opens (or, multi-queue, attaches one more queue to) the TUN device name ("" lets the
 * kernel choose). out20 receives the device name (16 bytes, NUL-terminated) and the u32
 * offload mask that TUNSETOFFLOAD accepted (0 when not asked or refused). */
int32_t tt_tun_open(const char *name, int32_t flags, uint8_t *out20)
{
	struct ifreq ifr;
	if (strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	if (flags & TT_TUN_MULTI_QUEUE)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	if (flags & TT_TUN_VNET_HDR)
		ifr.ifr_flags |= IFF_VNET_HDR;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		goto fail;
	if (flags & TT_TUN_VNET_HDR) {
		int sz = TT_VNET_HDR_LEN;
		if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0)
			goto fail;
	}
	uint32_t offload = 0;
	if ((flags & TT_TUN_OFFLOAD) && (flags & TT_TUN_VNET_HDR)) {
		/* Offloads need the vnet header to describe segments; without CSUM the kernel
		 * refuses TSO/USO (EINVAL), and kernels before 6.2 refuse USO: step down. */
		static const unsigned masks[] = {
			TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6,
			TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
		};
		for (size_t i = 0; i < sizeof(masks) / sizeof(masks[0]) && !offload; i++)
			if (ioctl(fd, TUNSETOFFLOAD, masks[i]) == 0)
				offload = masks[i];
		if (!offload)
			goto fail;
	} else if (flags & TT_TUN_OFFLOAD) {
		close(fd);
		return -EINVAL;
	}
	memset(out20, 0, 20);
	memcpy(out20, ifr.ifr_name, IFNAMSIZ);
	memcpy(out20 + 16, &offload, 4);
	return fd;
fail:;
	int e = errno;
	close(fd);
	return -e;
}

/* Reads up to count packets, one read(2) each, until EAGAIN. An error after some packets
 * ends the batch early with cb->err set; an error on the first is returned as -errno.
 * A packet longer than its slot is dropped with cb->err = EMSGSIZE, as the TUN_VNET path
 * drops a segment that does not fit: a cut IP packet is of no use to anyone, and the
 * kernel's read(2) would cut it silently (it returns the bytes copied, not the packet's
 * length). One byte read past the slot, into `spill`, is what tells. */
int32_t tt_tun_read_batch(uint64_t cb)
{
	tt_batch *b = tt_ptr(cb);
	b->err = 0;
	int32_t rc = tt_batch_check(b, 1);
	uint32_t n = b->count, done = 0;
	if (rc < 0 || n == 0) {
		b->err = (uint32_t)-rc;
		b->count = 0;
		return rc;
	}
	if (b->flags & TT_TUN_VNET) {
		int32_t got = read_segmented(b, n);
		b->count = got > 0 ? (uint32_t)got : 0;
		return got;
	}
	while (done < n) {
		uint8_t spill;
		uint32_t room = tt_slot_room(b, done);
		struct iovec iov[2] = { { tt_ptr(tt_slot(b, done)), room }, { &spill, 1 } };
		ssize_t r = readv(b->fd, iov, 2);
		if (r > (ssize_t)room) {
			b->err = EMSGSIZE;
			continue;
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			b->err = (uint32_t)errno;
			if (done == 0) {
				b->count = 0;
				return -errno;
			}
			break;
		}
		tt_put_u32(b->lengths, done++, (uint32_t)r);
	}
	b->count = done;
	return (int32_t)done;
}

/* The packets merged for one TUN write (GRO): a virtio-net header and up to 64 KiB. */
static __thread uint8_t *gro;

/* Merges the run of TCP segments starting at slot i into `gro` (segment.c decides what
 * may merge); returns its length, 0 when slot i goes alone. */
static uint32_t gro_run(const tt_batch *b, uint32_t i, uint32_t n, uint32_t *merged)
{
	const uint8_t *pkts[TT_MAX_BATCH];
	uint32_t lens[TT_MAX_BATCH], k = 0;
	if (!gro && !(gro = malloc(BOUNCE_BYTES)))
		return 0;
	for (uint32_t j = i; j < n; j++, k++) {
		lens[k] = tt_get_u32(b->lengths, j);
		pkts[k] = lens[k] ? tt_ptr(tt_slot(b, j)) : NULL;
		if (!lens[k])
			break;
	}
	return tt_coalesce(pkts, lens, k, gro, BOUNCE_BYTES, merged);
}

/* Writes count packets, skipping slots of length 0. Stops at EAGAIN or the first error (cb->err says which) and
 * returns how many were written; -errno when the first write fails. A packet the kernel
 * rejects (EINVAL: not an IP packet) is the caller's to skip. */
int32_t tt_tun_write_batch(uint64_t cb)
{
	tt_batch *b = tt_ptr(cb);
	b->err = 0;
	int32_t rc = tt_batch_check(b, 1);
	uint32_t n = b->count, done = 0;
	if (rc < 0 || n == 0) {
		b->err = (uint32_t)-rc;
		b->count = 0;
		return rc;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (tt_get_u32(b->lengths, i) > tt_slot_limit(b, i)) {
			b->err = EINVAL;
			b->count = 0;
			return -EINVAL;
		}
	}
	int coalesce = (b->flags & TT_TUN_VNET) != 0;
	for (uint32_t i = 0; i < n;) {
		uint32_t len = tt_get_u32(b->lengths, i);
		if (len == 0) { /* a hole: the caller dropped this packet */
			i++;
			continue;
		}
		uint32_t merged = 0, bytes = coalesce ? gro_run(b, i, n, &merged) : 0;
		static const struct virtio_net_hdr none; /* no offload, checksum complete */
		struct iovec iov[2] = { { (void *)&none, sizeof(none) }, { tt_ptr(tt_slot(b, i)), len } };
		ssize_t r = bytes ? write(b->fd, gro, bytes)
			: (b->flags & TT_TUN_VNET) ? writev(b->fd, iov, 2) : write(b->fd, iov[1].iov_base, len);
		if (r < 0 && bytes && errno == EINVAL) {
			coalesce = 0; /* the kernel refused the merged packet: write these one by one */
			continue;
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			b->err = (uint32_t)errno;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (done == 0) {
				b->count = 0;
				return -errno;
			}
			break;
		}
		done += bytes ? merged : 1;
		i += bytes ? merged : 1;
	}
	b->count = done;
	return (int32_t)done;
}
