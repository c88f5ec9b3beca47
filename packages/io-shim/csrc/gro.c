/* gro.c - udp recv batches on a UDP_GRO socket: whole datagrams (GRO trains of up to
 * 64 KiB among them) land in the caller's GRO area, then are cut into the caller's slots,
 * one transport message per slot, each with its train's sender and local address. The
 * rest of the caller sees exactly what it would have seen without GRO. See tt_gro_area
 * in taltun_io.h for the layout and why the leftovers stay in the area between calls.
 *
 * A train may not be received straight into the slots: the kernel cuts a datagram to its
 * buffer and drops the rest, so every buffer must take 64 KiB, which 64 slots cannot
 * afford; a few 64 KiB buffers and a copy of each segment (cheap beside its AEAD) can. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "mem.h"
#include "slot.h"
#include "taltun_io.h"
#include "udp_ctl.h"

static uint64_t held_at(uint64_t area, uint32_t i)
{
	return area + TT_GRO_HEAD_SIZE + (uint64_t)i * TT_GRO_HELD_SIZE;
}

static uint64_t buffer_at(uint64_t area, const tt_gro_head *h, uint32_t i)
{
	return area + TT_GRO_DATA + (uint64_t)i * h->buf_size;
}

/* Hands out held segments into slots [*out, n): returns when the slots are full or nothing
 * is held. A segment longer than its slot is dropped and counted, never cut. */
static void hand_out(tt_batch *b, tt_gro_head *h, uint32_t *out, uint32_t n)
{
	while (*out < n && h->next < h->held) {
		tt_gro_held r;
		memcpy(&r, tt_ptr(held_at(b->gro, h->next)), sizeof(r));
		if (r.seg == TT_GRO_DROP || r.len > h->buf_size || h->offset > r.len) {
			h->next++;
			h->offset = 0;
			continue;
		}
		/* A zero-length datagram is still one (empty) packet, as without GRO. */
		uint32_t left = r.len - h->offset;
		uint32_t len = (r.seg && r.seg < left) ? r.seg : left;
		uint32_t i = *out;
		if (len > tt_slot_room(b, i)) {
			b->truncated++;
		} else {
			memcpy(tt_ptr(tt_slot(b, i)), tt_ptr(buffer_at(b->gro, h, h->next) + h->offset), len);
			tt_put_u32(b->lengths, i, len);
			if (b->addrs)
				memcpy(tt_ptr(b->addrs + (uint64_t)i * TT_ADDR_SIZE), &r.from, TT_ADDR_SIZE);
			if (b->locals)
				memcpy(tt_ptr(b->locals + (uint64_t)i * TT_LOCAL_SIZE), &r.local, TT_LOCAL_SIZE);
			if (b->segs)
				tt_put_u32(b->segs, i, r.seg);
			(*out)++;
		}
		h->offset += len;
		if (h->offset >= r.len) {
			h->next++;
			h->offset = 0;
		}
	}
	if (h->next >= h->held)
		h->held = h->next = h->offset = 0;
}

/* One recvmmsg of up to `want` datagrams into the area's buffers. Returns how many
 * arrived (0: none waiting) or -errno; records what the kernel said about each. */
static int receive(tt_batch *b, tt_gro_head *h, uint32_t want)
{
	struct mmsghdr msgs[TT_GRO_MAX_BUFFERS];
	struct iovec iov[TT_GRO_MAX_BUFFERS];
	struct sockaddr_storage names[TT_GRO_MAX_BUFFERS];
	tt_ctl ctl[TT_GRO_MAX_BUFFERS];
	memset(msgs, 0, want * sizeof(msgs[0]));
	for (uint32_t i = 0; i < want; i++) {
		iov[i].iov_base = tt_ptr(buffer_at(b->gro, h, i));
		iov[i].iov_len = h->buf_size;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &names[i];
		msgs[i].msg_hdr.msg_namelen = sizeof(names[i]);
		msgs[i].msg_hdr.msg_control = ctl[i].buf;
		msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
	}
	int got;
	do
		got = recvmmsg(b->fd, msgs, want, MSG_DONTWAIT, NULL);
	while (got < 0 && errno == EINTR);
	if (got < 0)
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -errno;
	for (uint32_t i = 0; i < (uint32_t)got; i++) {
		tt_gro_held r;
		memset(&r, 0, sizeof(r));
		r.len = msgs[i].msg_len;
		r.seg = tt_udp_read_control(&msgs[i].msg_hdr, &r.local);
		tt_addr_from_sockaddr(&names[i], &r.from);
		/* Cut short: its last segment is partial, and which one is whole cannot be
		 * trusted further than the kernel's word; drop it all and count it. */
		if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
			r.seg = TT_GRO_DROP;
			b->truncated++;
			b->err = EMSGSIZE;
		} else if (r.seg && r.seg < r.len) {
			b->trains++;
		}
		memcpy(tt_ptr(held_at(b->gro, (uint32_t)i)), &r, sizeof(r));
	}
	h->held = (uint32_t)got;
	h->next = h->offset = 0;
	return got;
}

int32_t tt_udp_recv_gro(tt_batch *b)
{
	uint32_t n = b->count, out = 0;
	tt_gro_head h;
	memcpy(&h, tt_ptr(b->gro), sizeof(h));
	b->truncated = b->trains = 0;
	if (h.buffers == 0 || h.buffers > TT_GRO_MAX_BUFFERS || h.buf_size == 0 || h.held > h.buffers || h.next > h.held) {
		b->err = EINVAL;
		b->count = 0;
		return -EINVAL;
	}
	int32_t rc = 0;
	for (;;) {
		hand_out(b, &h, &out, n);
		if (out == n)
			break;
		/* Never more datagrams than free slots: each gives at least one packet, and
		 * what is held past this batch only waits. */
		uint32_t want = n - out < h.buffers ? n - out : h.buffers;
		int got = receive(b, &h, want);
		if (got < 0) {
			b->err = (uint32_t)-got;
			if (out == 0)
				rc = got;
			break;
		}
		if (got == 0)
			break;
		if ((uint32_t)got < want) { /* the socket is empty: no second look */
			hand_out(b, &h, &out, n);
			break;
		}
	}
	memcpy(tt_ptr(b->gro), &h, sizeof(h));
	b->count = out;
	return rc < 0 ? rc : (int32_t)out;
}
