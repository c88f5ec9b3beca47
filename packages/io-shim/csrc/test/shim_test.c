/* shim_test.c - exercises every C path of the shim, built with -fsanitize=address,undefined
 * (make sanitize) and run by run_sanitize.sh inside a network namespace it creates.
 * Control blocks and buffers live in one heap block, as they do in the WASM memory; the
 * block is deliberately only 4-byte aligned in places to catch unaligned accesses. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../segment.h"
#include "../taltun_io.h"

static int failures;
#define CHECK(cond)                                                                  \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                                  \
		}                                                                    \
	} while (0)

#define STRIDE 2048u
static uint8_t *mem;
static tt_batch *cb;
static uint64_t lens, addrs, segs, slots, big, table, locals;

static void put_u32(uint64_t base, uint32_t i, uint32_t v) { memcpy((void *)(uintptr_t)(base + 4 * i), &v, 4); }
static uint32_t get_u32(uint64_t base, uint32_t i) { uint32_t v; memcpy(&v, (void *)(uintptr_t)(base + 4 * i), 4); return v; }

static void set_addr(uint32_t i, uint16_t family, const char *ip, uint16_t port)
{
	tt_addr r = {.family = family, .port = port};
	inet_pton(family, ip, r.addr);
	memcpy((void *)(uintptr_t)(addrs + (uint64_t)i * TT_ADDR_SIZE), &r, sizeof(r));
}

static void setup(int fd, uint32_t count, uint64_t buffer, uint32_t stride)
{
	memset(cb, 0, sizeof(*cb));
	cb->fd = fd;
	cb->count = count;
	cb->buffer = buffer;
	cb->stride = stride;
	cb->lengths = lens;
	cb->addrs = addrs;
}

static int recv_n(int fd, int want, uint32_t stride, int with_segs)
{
	int got = 0;
	for (int tries = 0; got < want && tries < 200; tries++) {
		setup(fd, TT_MAX_BATCH, big, stride);
		if (with_segs)
			cb->segs = segs;
		int n = tt_udp_recv_batch((uint64_t)(uintptr_t)cb);
		CHECK(n >= 0);
		if (n <= 0) {
			usleep(5000);
			continue;
		}
		got += n;
	}
	return got;
}

static void test_udp(void)
{
	uint8_t any6[16] = {0}, lo4[16] = {127, 0, 0, 1};
	int a = tt_udp_open(AF_INET, lo4, 0, TT_UDP_GSO, 1 << 20, 1 << 20, 0);
	int b = tt_udp_open(AF_INET6, any6, 0, TT_UDP_REUSEPORT, 1 << 20, 0, 0);
	int g = tt_udp_open(AF_INET, lo4, 0, TT_UDP_GRO, 0, 0, 0);
	CHECK(a >= 0 && b >= 0 && g >= 0);
	int bport = tt_udp_port(b), gport = tt_udp_port(g);
	CHECK(bport > 0 && gport > 0);
	/* 64 plain datagrams to a dual-stack socket */
	for (uint32_t i = 0; i < 64; i++) {
		put_u32(lens, i, 1400);
		memset((void *)(uintptr_t)(slots + i * STRIDE), (int)i, 1400);
		set_addr(i, AF_INET, "127.0.0.1", (uint16_t)bport);
	}
	setup(a, 64, slots, STRIDE);
	CHECK(tt_udp_send_batch((uint64_t)(uintptr_t)cb) == 64);
	CHECK(recv_n(b, 64, STRIDE, 1) == 64);
	tt_addr from;
	memcpy(&from, (void *)(uintptr_t)addrs, sizeof(from));
	CHECK(from.family == AF_INET && from.port == tt_udp_port(a)); /* v4-mapped shown as v4 */
	/* coalesced GSO to a GRO socket */
	for (uint32_t i = 0; i < 20; i++)
		set_addr(i, AF_INET, "127.0.0.1", (uint16_t)gport);
	put_u32(lens, 19, 300);
	setup(a, 20, slots, STRIDE);
	cb->flags = TT_SEND_COALESCE;
	CHECK(tt_udp_send_batch((uint64_t)(uintptr_t)cb) == 20);
	CHECK(recv_n(g, 1, 65536, 1) >= 1);
	CHECK(get_u32(segs, 0) == 1400 || get_u32(segs, 0) == 0);
	/* segSize split of one slot */
	put_u32(lens, 0, 1500);
	set_addr(0, AF_INET, "127.0.0.1", (uint16_t)gport);
	setup(a, 1, slots, STRIDE);
	cb->seg_size = 500;
	CHECK(tt_udp_send_batch((uint64_t)(uintptr_t)cb) == 1);
	CHECK(recv_n(g, 1, 65536, 1) >= 1);
	/* IPv6 peer on an IPv4 socket, length over stride, count over max, bad fd */
	set_addr(0, AF_INET6, "::1", 9);
	put_u32(lens, 0, 10);
	setup(a, 1, slots, STRIDE);
	CHECK(tt_udp_send_batch((uint64_t)(uintptr_t)cb) == 1 && cb->err == EAFNOSUPPORT); /* dropped */
	memcpy((void *)(uintptr_t)addrs, &(uint16_t){7}, 2);
	setup(a, 1, slots, STRIDE);
	CHECK(tt_udp_send_batch((uint64_t)(uintptr_t)cb) == -EAFNOSUPPORT); /* unknown family */
	put_u32(lens, 0, STRIDE + 1);
	setup(a, 1, slots, STRIDE);
	CHECK(tt_udp_send_batch((uint64_t)(uintptr_t)cb) == -EINVAL);
	setup(a, TT_MAX_BATCH + 1, slots, STRIDE);
	CHECK(tt_udp_recv_batch((uint64_t)(uintptr_t)cb) == -EINVAL);
	setup(a, 1, slots, STRIDE);
	cb->capacity = STRIDE + 1;
	CHECK(tt_udp_recv_batch((uint64_t)(uintptr_t)cb) == -EINVAL);
	setup(9999, 1, slots, STRIDE);
	CHECK(tt_udp_recv_batch((uint64_t)(uintptr_t)cb) == -EBADF);
	setup(a, 1, slots, STRIDE);
	CHECK(tt_udp_recv_batch((uint64_t)(uintptr_t)cb) == 0); /* nothing waiting */
	CHECK(tt_udp_open(7, lo4, 0, 0, 0, 0, 0) == -EINVAL);
	tt_close(a);
	tt_close(b);
	tt_close(g);
}

static void set_local(uint32_t i, uint16_t family, const char *ip, uint32_t ifindex)
{
	tt_local r = {.family = family, .ifindex = ifindex};
	if (ip)
		inet_pton(family, ip, r.addr);
	memcpy((void *)(uintptr_t)(locals + (uint64_t)i * TT_LOCAL_SIZE), &r, sizeof(r));
}

static tt_local get_local(uint32_t i)
{
	tt_local r;
	memcpy(&r, (void *)(uintptr_t)(locals + (uint64_t)i * TT_LOCAL_SIZE), sizeof(r));
	return r;
}

/* Receives one batch (waiting up to 1 s for the first datagram) with senders and local
 * addresses; returns how many came. */
static int recv_locals(int fd, uint32_t stride, int with_segs)
{
	for (int tries = 0; tries < 200; tries++) {
		setup(fd, TT_MAX_BATCH, big, stride);
		cb->locals = locals;
		if (with_segs)
			cb->segs = segs;
		int n = tt_udp_recv_batch((uint64_t)(uintptr_t)cb);
		CHECK(n >= 0);
		if (n != 0)
			return n;
		usleep(5000);
	}
	return 0;
}

/* Sticky sources on loopback (127.0.0.0/8 is all local): where a datagram arrived, replies
 * from there, GSO runs that share a source, and the fall-over when a source is refused
 * (198.18.99.1 and fd00:99::1 are nobody's: ENETUNREACH for IPv4, EINVAL for IPv6). */
static void test_udp_sticky(void)
{
	uint8_t any4[16] = {0}, any6[16] = {0}, lo4[16] = {127, 0, 0, 1}, lo6[16] = {[15] = 1};
	int s4 = tt_udp_open(AF_INET, any4, 0, TT_UDP_GSO, 1 << 20, 1 << 20, 0);
	int s6 = tt_udp_open(AF_INET6, any6, 0, TT_UDP_GSO, 1 << 20, 1 << 20, 0);
	int c4 = tt_udp_open(AF_INET, lo4, 0, TT_UDP_GRO, 1 << 20, 0, 0);
	int c6 = tt_udp_open(AF_INET6, lo6, 0, TT_UDP_V6ONLY, 1 << 20, 0, 0);
	CHECK(s4 >= 0 && s6 >= 0 && c4 >= 0 && c6 >= 0);
	uint16_t p4 = (uint16_t)tt_udp_port(s4), p6 = (uint16_t)tt_udp_port(s6), pc4 = (uint16_t)tt_udp_port(c4), pc6 = (uint16_t)tt_udp_port(c6);
	/* to 127.0.0.2 on the v4 socket and on the dual-stack one, to ::1 on the dual-stack one */
	struct { int fd; uint16_t port; int from; uint16_t family; const char *to; } cases[3] = {
		{s4, p4, c4, AF_INET, "127.0.0.2"}, {s6, p6, c4, AF_INET, "127.0.0.2"}, {s6, p6, c6, AF_INET6, "::1"}};
	for (int k = 0; k < 3; k++) {
		put_u32(lens, 0, 100);
		set_addr(0, cases[k].family, cases[k].to, cases[k].port);
		setup(cases[k].from, 1, slots, STRIDE);
		CHECK(tt_udp_send_batch((uint64_t)(uintptr_t)cb) == 1);
		memset((void *)(uintptr_t)locals, 0xee, TT_LOCAL_SIZE);
		CHECK(recv_locals(cases[k].fd, STRIDE, 0) == 1);
		tt_local l = get_local(0);
		uint8_t want[16] = {0};
		inet_pton(cases[k].family, cases[k].to, want);
		CHECK(l.family == cases[k].family && memcmp(l.addr, want, 16) == 0 && l.ifindex == 1 && l.reserved == 0);
	}
	/* replies: the record received is the source; without one the kernel picks 127.0.0.1 */
	for (uint32_t round = 0; round < 2; round++) {
		put_u32(lens, 0, 100);
		set_addr(0, AF_INET, "127.0.0.1", pc4);
		set_local(0, round ? 0 : AF_INET, round ? NULL : "127.0.0.2", 1);
		setup(s6, 1, slots, STRIDE);
		cb->locals = locals;
		CHECK(tt_udp_send_batch((uint64_t)(uintptr_t)cb) == 1 && cb->fallbacks == 0);
		CHECK(recv_locals(c4, 65536, 1) == 1);
		tt_addr from;
		memcpy(&from, (void *)(uintptr_t)addrs, sizeof(from));
		CHECK(from.family == AF_INET && from.port == p6 && from.addr[3] == (round ? 1 : 2));
	}
	/* a GSO run of 20 shares its source; a different source splits the run */
	for (uint32_t i = 0; i < 20; i++) {
		put_u32(lens, i, i == 19 ? 300 : 1000);
		set_addr(i, AF_INET, "127.0.0.1", pc4);
		set_local(i, AF_INET, i < 12 ? "127.0.0.2" : "127.0.0.3", 1);
	}
	setup(s4, 20, slots, STRIDE);
	cb->locals = locals;
	cb->flags = TT_SEND_COALESCE;
	CHECK(tt_udp_send_batch((uint64_t)(uintptr_t)cb) == 20 && cb->err == 0 && cb->fallbacks == 0);
	uint32_t bytes[4] = {0};
	for (int got = 0, tries = 0; got < 2 && tries < 5; tries++) {
		int n = recv_locals(c4, 65536, 1);
		for (int i = 0; i < n; i++, got++) {
			tt_addr from;
			memcpy(&from, (void *)(uintptr_t)(addrs + (uint64_t)i * TT_ADDR_SIZE), sizeof(from));
			if (from.addr[3] < 4)
				bytes[from.addr[3]] += get_u32(lens, (uint32_t)i);
		}
	}
	CHECK(bytes[2] == 12 * 1000 && bytes[3] == 7 * 1000 + 300 && bytes[1] == 0);
	/* a source nobody has: sent without it, the record's family cleared, its address kept */
	for (int k = 0; k < 2; k++) {
		put_u32(lens, 0, 100);
		put_u32(lens, 1, 100);
		set_addr(0, k ? AF_INET6 : AF_INET, k ? "::1" : "127.0.0.1", k ? pc6 : pc4);
		set_addr(1, k ? AF_INET6 : AF_INET, k ? "::1" : "127.0.0.1", k ? pc6 : pc4);
		set_local(0, k ? AF_INET6 : AF_INET, k ? "fd00:99::1" : "198.18.99.1", 1);
		set_local(1, k ? AF_INET6 : AF_INET, k ? "::1" : "127.0.0.2", 1);
		setup(s6, 2, slots, STRIDE);
		cb->locals = locals;
		CHECK(tt_udp_send_batch((uint64_t)(uintptr_t)cb) == 2 && cb->err == 0 && cb->fallbacks == 1);
		tt_local l0 = get_local(0), l1 = get_local(1);
		CHECK(l0.family == 0 && (k ? l0.addr[0] == 0xfd : l0.addr[0] == 198) && l1.family == (k ? AF_INET6 : AF_INET));
		CHECK(recv_locals(k ? c6 : c4, 65536, 0) == 2);
	}
	/* ... and a whole GSO run with it falls over together */
	for (uint32_t i = 0; i < 10; i++) {
		put_u32(lens, i, 1000);
		set_addr(i, AF_INET, "127.0.0.1", pc4);
		set_local(i, AF_INET, "198.18.99.1", 0);
	}
	setup(s4, 10, slots, STRIDE);
	cb->locals = locals;
	cb->flags = TT_SEND_COALESCE;
	CHECK(tt_udp_send_batch((uint64_t)(uintptr_t)cb) == 10 && cb->fallbacks == 10 && cb->err == 0);
	CHECK(get_local(9).family == 0);
	CHECK(recv_locals(c4, 65536, 1) >= 1);
	/* an unreachable peer with a good source is dropped, the source kept */
	put_u32(lens, 0, 100);
	set_addr(0, AF_INET6, "fd00:98::1", 9);
	set_local(0, AF_INET6, "::1", 1);
	setup(s6, 1, slots, STRIDE);
	cb->locals = locals;
	CHECK(tt_udp_send_batch((uint64_t)(uintptr_t)cb) == 1 && cb->err == ENETUNREACH && cb->fallbacks == 0);
	CHECK(get_local(0).family == AF_INET6);
	tt_close(s4);
	tt_close(s6);
	tt_close(c4);
	tt_close(c6);
}

static void test_mark(void)
{
	uint8_t lo4[16] = {127, 0, 0, 1}, out[4];
	uint32_t mark;
	int s = tt_udp_open(AF_INET, lo4, 0, 0, 0, 0, 0x1234);
	CHECK(s >= 0);
	CHECK(tt_socket_get_mark(s, out) == 0 && (memcpy(&mark, out, 4), mark == 0x1234));
	CHECK(tt_socket_set_mark(s, (int32_t)0xfffffffe) == 0);
	CHECK(tt_socket_get_mark(s, out) == 0 && (memcpy(&mark, out, 4), mark == 0xfffffffe));
	CHECK(tt_socket_set_mark(s, 0) == 0);
	CHECK(tt_socket_get_mark(s, out) == 0 && (memcpy(&mark, out, 4), mark == 0));
	CHECK(tt_socket_set_mark(-1, 1) == -EBADF && tt_socket_get_mark(s, NULL) == -EFAULT);
	tt_close(s);
	CHECK(tt_socket_set_mark(s, 1) == -EBADF);
}

/* Slot tables: every slot is a heap block of exactly its capacity, so ASan reports any
 * byte a batch reads or writes past a slot. The table itself is only 4-byte aligned. */
static void set_slot(uint32_t i, const void *p, uint32_t capacity)
{
	tt_slot_entry e = {.addr = (uint64_t)(uintptr_t)p, .capacity = capacity};
	memcpy((void *)(uintptr_t)(table + (uint64_t)i * TT_SLOT_ENTRY_SIZE), &e, sizeof(e));
}

static void setup_slots(int fd, uint32_t count, uint64_t first)
{
	setup(fd, count, 0, 0);
	cb->slots = table + first * TT_SLOT_ENTRY_SIZE;
	cb->lengths = lens + first * 4;
	cb->segs = segs + first * 4;
}

/* Receives `want` datagrams into table entries 0..want-1 in order; how many came. */
static uint32_t recv_slots(int fd, uint32_t want, uint32_t *err)
{
	uint32_t got = 0;
	*err = 0;
	for (int tries = 0; got < want && tries < 200; tries++) {
		setup_slots(fd, want - got, got);
		int n = tt_udp_recv_batch((uint64_t)(uintptr_t)cb);
		CHECK(n >= 0);
		if (cb->err)
			*err = cb->err;
		if (n <= 0)
			usleep(5000);
		else
			got += (uint32_t)n;
	}
	return got;
}

static void test_udp_slots(void)
{
	static const uint32_t caps[4] = {64, 2048, 9000, 65535};
	uint8_t *tx[4], *rx[4], lo4[16] = {127, 0, 0, 1};
	for (int i = 0; i < 4; i++) {
		tx[i] = malloc(caps[i]);
		rx[i] = malloc(caps[i]);
		memset(tx[i], 0x10 + i, caps[i]);
	}
	int a = tt_udp_open(AF_INET, lo4, 0, TT_UDP_GSO, 1 << 22, 1 << 22, 0);
	int b = tt_udp_open(AF_INET, lo4, 0, 0, 1 << 22, 0, 0);
	int g = tt_udp_open(AF_INET, lo4, 0, TT_UDP_GRO, 1 << 22, 0, 0);
	CHECK(a >= 0 && b >= 0 && g >= 0);
	uint16_t bport = (uint16_t)tt_udp_port(b), gport = (uint16_t)tt_udp_port(g);
	/* every slot full (the 64 KiB one: the most a datagram carries, and less) */
	static const uint32_t full[4] = {64, 2048, 9000, 65000};
	for (uint32_t i = 0; i < 4; i++) {
		set_slot(i, tx[i], caps[i]);
		put_u32(lens, i, full[i]);
		set_addr(i, AF_INET, "127.0.0.1", bport);
	}
	setup_slots(a, 4, 0);
	CHECK(tt_udp_send_batch((uint64_t)(uintptr_t)cb) == 4 && cb->err == 0);
	for (uint32_t i = 0; i < 4; i++)
		set_slot(i, rx[i], caps[i]);
	uint32_t err;
	CHECK(recv_slots(b, 4, &err) == 4 && err == 0);
	for (uint32_t i = 0; i < 4; i++)
		CHECK(get_u32(lens, i) == full[i] && rx[i][full[i] - 1] == 0x10 + i);
	/* one byte over each receive slot: cut at its end, EMSGSIZE */
	for (uint32_t i = 0; i < 4; i++) {
		set_slot(i, tx[3], caps[3]);
		put_u32(lens, i, i < 3 ? caps[i] + 1 : 100);
		set_addr(i, AF_INET, "127.0.0.1", bport); /* the receive wrote senders here */
	}
	setup_slots(a, 4, 0);
	CHECK(tt_udp_send_batch((uint64_t)(uintptr_t)cb) == 4);
	for (uint32_t i = 0; i < 4; i++)
		set_slot(i, rx[i], caps[i]);
	CHECK(recv_slots(b, 4, &err) == 4 && err == EMSGSIZE);
	CHECK(get_u32(lens, 0) == 64 && get_u32(lens, 1) == 2048 && get_u32(lens, 2) == 9000 && get_u32(lens, 3) == 100);
	/* a send length over its slot refuses the batch */
	set_slot(0, tx[0], caps[0]);
	put_u32(lens, 0, 65);
	setup_slots(a, 1, 0);
	CHECK(tt_udp_send_batch((uint64_t)(uintptr_t)cb) == -EINVAL && cb->err == EINVAL);
	/* a GSO train from slots of three sizes, into a 2 KiB slot (cut) and a 64 KiB one (whole) */
	for (int round = 0; round < 2; round++) {
		for (uint32_t i = 0; i < 20; i++) {
			set_slot(i, tx[1 + i % 3], caps[1 + i % 3]);
			put_u32(lens, i, i == 19 ? 300 : 1400);
			set_addr(i, AF_INET, "127.0.0.1", gport);
		}
		setup_slots(a, 20, 0);
		cb->flags = TT_SEND_COALESCE;
		CHECK(tt_udp_send_batch((uint64_t)(uintptr_t)cb) == 20);
		set_slot(0, rx[round ? 3 : 1], caps[round ? 3 : 1]);
		CHECK(recv_slots(g, 1, &err) == 1);
		if (round == 0)
			CHECK(get_u32(lens, 0) == 2048 && err == EMSGSIZE);
		else
			CHECK(get_u32(lens, 0) == 19 * 1400 + 300 && get_u32(segs, 0) == 1400 && err == 0);
	}
	/* one 60000-byte slot sent as 1200-byte datagrams (segSize) */
	set_slot(0, tx[3], caps[3]);
	put_u32(lens, 0, 60000);
	set_addr(0, AF_INET, "127.0.0.1", bport);
	setup_slots(a, 1, 0);
	cb->seg_size = 1200;
	CHECK(tt_udp_send_batch((uint64_t)(uintptr_t)cb) == 1 && cb->err == 0);
	CHECK(recv_n(b, 50, STRIDE, 0) == 50);
	/* what the check refuses: a null slot, capacity 0, a slot that wraps, a table beside a stride */
	set_slot(0, rx[0], caps[0]);
	set_slot(1, NULL, 64);
	setup_slots(b, 2, 0);
	CHECK(tt_udp_recv_batch((uint64_t)(uintptr_t)cb) == -EFAULT && cb->count == 0);
	set_slot(1, rx[1], 0);
	setup_slots(b, 2, 0);
	CHECK(tt_udp_recv_batch((uint64_t)(uintptr_t)cb) == -EINVAL);
	tt_slot_entry wrap = {.addr = UINT64_MAX - 10, .capacity = 64};
	memcpy((void *)(uintptr_t)(table + TT_SLOT_ENTRY_SIZE), &wrap, sizeof(wrap));
	setup_slots(b, 2, 0);
	CHECK(tt_udp_recv_batch((uint64_t)(uintptr_t)cb) == -EINVAL);
	set_slot(1, rx[1], caps[1]);
	setup_slots(b, 2, 0);
	cb->stride = STRIDE;
	CHECK(tt_udp_recv_batch((uint64_t)(uintptr_t)cb) == -EINVAL);
	setup_slots(b, 2, 0);
	cb->capacity = 64;
	CHECK(tt_udp_recv_batch((uint64_t)(uintptr_t)cb) == -EINVAL);
	setup_slots(b, 2, 0);
	cb->buffer = slots;
	CHECK(tt_udp_recv_batch((uint64_t)(uintptr_t)cb) == -EINVAL);
	setup_slots(b, 2, 0);
	CHECK(tt_udp_recv_batch((uint64_t)(uintptr_t)cb) == 0); /* a good table, nothing waiting */
	for (int i = 0; i < 4; i++) {
		free(tx[i]);
		free(rx[i]);
	}
	tt_close(a);
	tt_close(b);
	tt_close(g);
}

static void disable_ipv6(const char *dev)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", dev);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("1", f);
		fclose(f);
	}
}

static uint32_t tcp_segment(uint8_t *p, uint32_t k, uint32_t size, uint8_t flags);

/* TUN reads and writes through slots of exactly their capacity: plain reads drop a packet
 * longer than its slot, TUN_VNET reads cut a super-packet into them, TUN_VNET writes merge
 * TCP segments from them. */
static void test_tun_slots(void)
{
	uint8_t out[20], a4[16] = {100, 64, 19, 1};
	int t = tt_tun_open("ttsan2", TT_TUN_VNET_HDR | TT_TUN_OFFLOAD, out);
	int p = tt_tun_open("ttsan3", 0, out);
	CHECK(t >= 0 && p >= 0);
	disable_ipv6("ttsan2");
	disable_ipv6("ttsan3");
	CHECK(tt_addr_change("ttsan2", 1, AF_INET, a4, 24) == 0);
	CHECK(tt_link_set_up("ttsan2", 1) == 0);
	uint8_t p4[16] = {100, 64, 20, 1};
	CHECK(tt_addr_change("ttsan3", 1, AF_INET, p4, 24) == 0);
	CHECK(tt_link_set_mtu("ttsan3", 9000) == 0);
	CHECK(tt_link_set_up("ttsan3", 1) == 0);
	int s = tt_udp_open(AF_INET, a4, 0, TT_UDP_GSO, 0, 0, 0);
	int s3 = tt_udp_open(AF_INET, p4, 0, 0, 0, 0, 0);
	CHECK(s >= 0 && s3 >= 0);
	uint8_t *seg[10], *payload = malloc(9000);
	memset(payload, 0x5a, 9000);
	/* plain reads: a 9000-byte packet, then a 128-byte one, into slots of 2048 and 128 */
	static const uint32_t sizes[2] = {8972, 100};
	for (uint32_t i = 0; i < 2; i++) {
		set_slot(i, payload, 9000);
		put_u32(lens, i, sizes[i]);
		set_addr(i, AF_INET, "100.64.20.2", 9999);
	}
	setup_slots(s3, 2, 0);
	CHECK(tt_udp_send_batch((uint64_t)(uintptr_t)cb) == 2);
	uint8_t *r0 = malloc(2048), *r1 = malloc(128);
	set_slot(0, r0, 2048);
	set_slot(1, r1, 128);
	uint32_t got = 0, err = 0;
	for (int tries = 0; got < 1 && tries < 100; tries++) {
		setup_slots(p, 2, 0);
		int n = tt_tun_read_batch((uint64_t)(uintptr_t)cb);
		CHECK(n >= 0);
		if (cb->err)
			err = cb->err;
		got += n > 0 ? (uint32_t)n : 0;
		if (n <= 0)
			usleep(10000);
	}
	CHECK(got == 1 && err == EMSGSIZE && get_u32(lens, 0) == 128);
	/* TUN_VNET: ten 1028-byte segments of one UDP_SEGMENT send; the last slot is a byte short */
	for (uint32_t i = 0; i < 10; i++) {
		seg[i] = malloc(i == 9 ? 1027 : 1028);
		set_slot(i, payload, 9000);
		put_u32(lens, i, 1000);
		set_addr(i, AF_INET, "100.64.19.2", 9999);
	}
	setup_slots(s, 10, 0);
	cb->flags = TT_SEND_COALESCE;
	CHECK(tt_udp_send_batch((uint64_t)(uintptr_t)cb) == 10);
	for (uint32_t i = 0; i < 10; i++)
		set_slot(i, seg[i], i == 9 ? 1027 : 1028);
	got = 0, err = 0;
	for (int tries = 0; tries < 30; tries++) {
		if (got == 10)
			break;
		setup_slots(t, 10 - got, got);
		cb->flags = TT_TUN_VNET;
		int n = tt_tun_read_batch((uint64_t)(uintptr_t)cb);
		CHECK(n >= 0);
		if (cb->err)
			err = cb->err;
		got += n > 0 ? (uint32_t)n : 0;
		if (n <= 0)
			usleep(10000);
	}
	CHECK(got == 9 && err == EMSGSIZE);
	for (uint32_t i = 0; i < 9; i++)
		CHECK(get_u32(lens, i) == 1028 && seg[i][0] == 0x45);
	/* TUN_VNET writes: six TCP segments from slots of exactly their length, merged */
	uint8_t *w[6];
	for (uint32_t k = 0; k < 6; k++) {
		uint32_t size = k == 5 ? 700 : 1300;
		w[k] = malloc(40 + size);
		put_u32(lens, k, tcp_segment(w[k], k, size, k == 5 ? 0x18 : 0x10));
		set_slot(k, w[k], 40 + size);
	}
	setup_slots(t, 6, 0);
	cb->flags = TT_TUN_VNET;
	CHECK(tt_tun_write_batch((uint64_t)(uintptr_t)cb) == 6);
	put_u32(lens, 2, 0); /* a hole */
	setup_slots(t, 6, 0);
	cb->flags = TT_TUN_VNET;
	CHECK(tt_tun_write_batch((uint64_t)(uintptr_t)cb) == 5);
	put_u32(lens, 2, 1341); /* over its slot: refused, nothing written */
	setup_slots(t, 6, 0);
	cb->flags = TT_TUN_VNET;
	CHECK(tt_tun_write_batch((uint64_t)(uintptr_t)cb) == -EINVAL && cb->err == EINVAL);
	for (uint32_t k = 0; k < 6; k++)
		free(w[k]);
	for (uint32_t i = 0; i < 10; i++)
		free(seg[i]);
	free(r0);
	free(r1);
	free(payload);
	tt_close(s);
	tt_close(s3);
	tt_close(t);
	tt_close(p);
}

static void test_poll(void)
{
	int e = tt_eventfd_open();
	CHECK(e >= 0);
	memset(cb, 0, sizeof(*cb));
	cb->count = 1;
	cb->poll_fds[0] = e;
	cb->timeout_ms = 10;
	CHECK(tt_poll_wait((uint64_t)(uintptr_t)cb) == 0);
	CHECK(tt_eventfd_write(e) == 0);
	CHECK(tt_poll_wait((uint64_t)(uintptr_t)cb) == 1 && cb->ready == 1);
	CHECK(tt_eventfd_read(e) == 1);
	CHECK(tt_eventfd_read(e) == 0);
	cb->count = 9;
	CHECK(tt_poll_wait((uint64_t)(uintptr_t)cb) == -EINVAL);
	tt_close(e);
	cb->count = 1;
	CHECK(tt_poll_wait((uint64_t)(uintptr_t)cb) == -EBADF);
	CHECK(tt_close(-1) == -EBADF);
}

static void test_tun_netlink(void)
{
	uint8_t out[20], a4[16] = {100, 64, 9, 1}, r4[16] = {100, 65, 0, 0}, a6[16];
	inet_pton(AF_INET6, "fd00:64::1", a6);
	int t = tt_tun_open("ttsan0", TT_TUN_MULTI_QUEUE | TT_TUN_VNET_HDR | TT_TUN_OFFLOAD, out);
	CHECK(t >= 0 && strcmp((char *)out, "ttsan0") == 0);
	int q = tt_tun_open("ttsan0", TT_TUN_MULTI_QUEUE | TT_TUN_VNET_HDR | TT_TUN_OFFLOAD, out);
	CHECK(q >= 0);
	tt_close(q);
	CHECK(tt_tun_open("ttsan1", TT_TUN_OFFLOAD, out) == -EINVAL);
	CHECK(tt_tun_open("a-name-that-is-far-too-long", 0, out) == -EINVAL);
	CHECK(tt_link_index("ttsan0") > 0);
	CHECK(tt_link_index("ttnope0") == -ENODEV);
	CHECK(tt_link_set_mtu("ttsan0", 1420) == 0);
	CHECK(tt_link_set_mtu("ttsan0", 10) == -EINVAL);
	CHECK(tt_addr_change("ttsan0", 1, AF_INET, a4, 24) == 0);
	CHECK(tt_addr_change("ttsan0", 1, AF_INET, a4, 24) == -EEXIST);
	CHECK(tt_addr_change("ttsan0", 1, AF_INET6, a6, 64) == 0);
	CHECK(tt_addr_change("ttsan0", 1, AF_INET, a4, 33) == -EINVAL);
	CHECK(tt_link_set_up("ttsan0", 1) == 0);
	CHECK(tt_route_change("ttsan0", 1, AF_INET, r4, 16) == 0);
	CHECK(tt_route_change("ttsan0", 0, AF_INET, r4, 16) == 0);
	CHECK(tt_route_change("ttsan0", 0, AF_INET, r4, 16) == -ESRCH);
	CHECK(tt_link_set_up("ttnope0", 1) == -ENODEV);
	/* a datagram into the TUN: read back behind the vnet header, written back out */
	uint8_t any4[16] = {100, 64, 9, 1};
	int s = tt_udp_open(AF_INET, any4, 0, 0, 0, 0, 0);
	CHECK(s >= 0);
	for (uint32_t i = 0; i < 3; i++) {
		put_u32(lens, i, 200);
		set_addr(i, AF_INET, "100.64.9.2", 9999);
	}
	setup(s, 3, slots, STRIDE);
	CHECK(tt_udp_send_batch((uint64_t)(uintptr_t)cb) == 3);
	int got = 0;
	for (int tries = 0; got < 3 && tries < 100; tries++) {
		setup(t, TT_MAX_BATCH, slots, STRIDE);
		int n = tt_tun_read_batch((uint64_t)(uintptr_t)cb);
		CHECK(n >= 0);
		for (int i = 0; i < n; i++)
			if ((((uint8_t *)(uintptr_t)(slots + (uint64_t)i * STRIDE))[TT_VNET_HDR_LEN] >> 4) == 4)
				got++;
		if (n <= 0)
			usleep(10000);
	}
	CHECK(got == 3);
	setup(t, 1, slots, STRIDE); /* the first packet read, echoed back: accepted */
	CHECK(tt_tun_write_batch((uint64_t)(uintptr_t)cb) == 1);
	put_u32(lens, 0, STRIDE + 1);
	setup(t, 1, slots, STRIDE);
	CHECK(tt_tun_write_batch((uint64_t)(uintptr_t)cb) == -EINVAL);
	setup(t, 1, slots, STRIDE);
	cb->lengths = 0;
	CHECK(tt_tun_read_batch((uint64_t)(uintptr_t)cb) == -EFAULT);
	/* a coalesced send over a too-small MTU falls back to one datagram per packet */
	CHECK(tt_link_set_mtu("ttsan0", 1020) == 0);
	for (uint32_t i = 0; i < 3; i++) {
		put_u32(lens, i, 1000);
		set_addr(i, AF_INET, "100.64.9.2", 9999);
	}
	setup(s, 3, slots, STRIDE);
	cb->flags = TT_SEND_COALESCE;
	CHECK(tt_udp_send_batch((uint64_t)(uintptr_t)cb) == 3 && cb->err != 0);
	CHECK(tt_addr_change("ttsan0", 0, AF_INET, a4, 24) == 0);
	CHECK(tt_addr_change("ttsan0", 0, AF_INET, a4, 24) == -EADDRNOTAVAIL);
	tt_close(s);
	tt_close(t);
}

/* Random virtio headers and packets, each exactly as long as its buffer, so that ASan
 * reports any read or write past what the segmenter was given. */
static void test_segment_fuzz(void)
{
	uint8_t out[2048];
	srand(7);
	for (int round = 0; round < 20000; round++) {
		uint32_t len = (uint32_t)(rand() % 1600);
		uint8_t *pkt = malloc(len ? len : 1);
		for (uint32_t i = 0; i < len; i++)
			pkt[i] = (uint8_t)rand();
		if (len > 10) {
			pkt[1] = (uint8_t)(rand() % 6); /* gso_type: NONE, TCPV4, UDP, TCPV6, UDP_L4 */
			pkt[10] = (uint8_t)((rand() & 1 ? 0x40 : 0x60) | (pkt[10] & 15));
		}
		int32_t n = tt_segment_count(pkt, len);
		for (int32_t i = 0; i < n && i < 200; i++) {
			int32_t w = tt_segment_one(pkt, len, (uint32_t)i, out, sizeof(out));
			CHECK(w <= (int32_t)sizeof(out));
		}
		free(pkt);
	}
}

/* Builds TCP/IPv4 segment k of a flow: 40 bytes of headers, `size` bytes of payload, the
 * checksums right. */
static uint32_t tcp_segment(uint8_t *p, uint32_t k, uint32_t size, uint8_t flags)
{
	uint32_t total = 40 + size, seq = 1000 + k * 1300;
	memset(p, 0, 40);
	p[0] = 0x45, p[2] = (uint8_t)(total >> 8), p[3] = (uint8_t)total, p[4] = 0, p[5] = (uint8_t)k;
	p[6] = 0x40, p[8] = 64, p[9] = 6;
	memcpy(p + 12, (uint8_t[]){100, 64, 1, 1, 100, 64, 1, 2}, 8);
	p[20] = 0x30, p[21] = 0x39, p[22] = 0x14, p[23] = 0x51; /* ports 12345 -> 5201 */
	p[24] = (uint8_t)(seq >> 24), p[25] = (uint8_t)(seq >> 16), p[26] = (uint8_t)(seq >> 8), p[27] = (uint8_t)seq;
	p[31] = 7, p[32] = 0x50, p[33] = flags, p[34] = 0x10;
	for (uint32_t i = 0; i < size; i++)
		p[40 + i] = (uint8_t)(k * 7 + i);
	uint32_t s = 0;
	for (int i = 0; i < 20; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	p[10] = (uint8_t)(~s >> 8), p[11] = (uint8_t)~s;
	s = 6 + 20 + size;
	for (int i = 12; i < 20; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	for (uint32_t i = 20; i < total; i += 2)
		s += (uint32_t)(p[i] << 8 | (i + 1 < total ? p[i + 1] : 0));
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	p[36] = (uint8_t)(~s >> 8), p[37] = (uint8_t)~s;
	return total;
}

/* GRO then TSO gives back the packets it started from; what may not merge does not. */
static void test_coalesce(void)
{
	static uint8_t in[6][1400], gro[70000], out[1400];
	const uint8_t *pkts[6];
	uint32_t lens[6], used = 0;
	for (uint32_t k = 0; k < 6; k++) {
		lens[k] = tcp_segment(in[k], k, k == 5 ? 700 : 1300, k == 5 ? 0x18 : 0x10);
		pkts[k] = in[k];
	}
	uint32_t n = tt_coalesce(pkts, lens, 6, gro, sizeof(gro), &used);
	CHECK(used == 6 && n == 10 + 40 + 5 * 1300 + 700);
	CHECK(tt_segment_count(gro, n) == 6);
	for (uint32_t k = 0; k < 6; k++) {
		int32_t w = tt_segment_one(gro, n, k, out, sizeof(out));
		CHECK(w == (int32_t)lens[k]);
		/* IPv4 ids are rebuilt from the first, flags from the run: all equal to what went in. */
		CHECK(w > 0 && memcmp(out, in[k], (size_t)w) == 0);
	}
	in[2][100] ^= 1; /* a bad checksum ends the run before it */
	CHECK(tt_coalesce(pkts, lens, 6, gro, sizeof(gro), &used) > 0 && used == 2);
	in[2][100] ^= 1;
	lens[1] = tcp_segment(in[1], 3, 1300, 0x10); /* a sequence gap */
	CHECK(tt_coalesce(pkts, lens, 6, gro, sizeof(gro), &used) == 0 && used == 1);
	lens[0] = tcp_segment(in[0], 0, 1300, 0x18); /* PSH on the first: nothing to wait for */
	CHECK(tt_coalesce(pkts, lens, 6, gro, sizeof(gro), &used) == 0);
	lens[0] = tcp_segment(in[0], 0, 1300, 0x12); /* SYN never merges */
	CHECK(tt_coalesce(pkts, lens, 6, gro, sizeof(gro), &used) == 0);
	/* Random bytes, exactly as long as given, for ASan. */
	srand(11);
	for (int round = 0; round < 5000; round++) {
		uint8_t *a = malloc(1400), *b = malloc(1400);
		uint32_t la = 20 + (uint32_t)(rand() % 1380), lb = 20 + (uint32_t)(rand() % 1380);
		for (int i = 0; i < 1400; i++)
			a[i] = (uint8_t)rand(), b[i] = (uint8_t)rand();
		a[0] = b[0] = 0x45, a[9] = b[9] = 6;
		const uint8_t *pp[2] = { a, b };
		uint32_t ll[2] = { la, lb };
		CHECK(tt_coalesce(pp, ll, 2, gro, sizeof(gro), &used) <= sizeof(gro));
		free(a), free(b);
	}
}

/* A GSO train of 41 x 1000 B + 500, a single, and a train again, received through a GRO
 * area 8 slots at a time: one packet per slot, in order, the area only 4-byte aligned. */
static void test_gro(void)
{
	uint8_t lo4[16] = {127, 0, 0, 1};
	int a = tt_udp_open(AF_INET, lo4, 0, TT_UDP_GSO, 1 << 20, 1 << 20, 0);
	int g = tt_udp_open(AF_INET, lo4, 0, TT_UDP_GRO, 1 << 22, 0, 0);
	CHECK(a >= 0 && g >= 0);
	uint16_t gport = (uint16_t)tt_udp_port(g);
	uint64_t area = (uint64_t)(uintptr_t)(mem + (2u << 20) + 4);
	tt_gro_head h = {.buffers = 4, .buf_size = 65536};
	memcpy((void *)(uintptr_t)area, &h, sizeof(h));
	uint32_t seq = 0, sizes[3] = {41, 1, 41};
	for (uint32_t t = 0; t < 3; t++) {
		for (uint32_t i = 0; i < sizes[t]; i++) {
			uint32_t len = sizes[t] == 1 ? 148 : (i == 40 ? 500 : 1000);
			put_u32(lens, i, len);
			memset((void *)(uintptr_t)(slots + i * STRIDE), (int)(seq & 0xff), len);
			memcpy((void *)(uintptr_t)(slots + i * STRIDE), &seq, 4);
			seq++;
			set_addr(i, AF_INET, "127.0.0.1", gport);
		}
		setup(a, sizes[t], slots, STRIDE);
		cb->flags = TT_SEND_COALESCE;
		CHECK(tt_udp_send_batch((uint64_t)(uintptr_t)cb) == (int32_t)sizes[t]);
	}
	uint32_t want = 0, trains = 0;
	for (int tries = 0; want < seq && tries < 400; tries++) {
		setup(g, 8, slots, STRIDE);
		cb->gro = area;
		cb->locals = locals;
		int n = tt_udp_recv_batch((uint64_t)(uintptr_t)cb);
		CHECK(n >= 0 && n <= 8 && cb->truncated == 0);
		trains += cb->trains;
		for (int i = 0; i < n; i++, want++) {
			uint32_t got;
			memcpy(&got, (void *)(uintptr_t)(slots + (uint64_t)i * STRIDE), 4);
			uint32_t len = get_u32(lens, (uint32_t)i);
			CHECK(got == want);
			CHECK(len == (want == 41 ? 148u : (want == 40 || want == 82) ? 500u : 1000u));
			tt_local loc;
			memcpy(&loc, (void *)(uintptr_t)(locals + (uint64_t)i * TT_LOCAL_SIZE), sizeof(loc));
			CHECK(loc.family == AF_INET && loc.addr[0] == 127);
		}
		if (n == 0)
			usleep(1000);
	}
	CHECK(want == seq && trains == 2);
	/* a header C cannot trust: refused, nothing read */
	h.held = 9;
	memcpy((void *)(uintptr_t)area, &h, sizeof(h));
	setup(g, 8, slots, STRIDE);
	cb->gro = area;
	CHECK(tt_udp_recv_batch((uint64_t)(uintptr_t)cb) == -EINVAL);
	tt_close(a);
	tt_close(g);
}

int main(void)
{
	size_t size = 4u << 20;
	mem = malloc(size);
	if (!mem)
		return 2;
	memset(mem, 0, size);
	cb = (tt_batch *)(mem + 64);
	lens = (uint64_t)(uintptr_t)(mem + 1024 + 4); /* only 4-byte aligned */
	segs = (uint64_t)(uintptr_t)(mem + 2048 + 4);
	addrs = (uint64_t)(uintptr_t)(mem + 4096 + 4);
	table = (uint64_t)(uintptr_t)(mem + 12288 + 4);
	locals = (uint64_t)(uintptr_t)(mem + 8192 + 4);
	slots = (uint64_t)(uintptr_t)(mem + 65536);
	big = (uint64_t)(uintptr_t)(mem + 262144);
	CHECK(tt_mem_address(mem) == (uint64_t)(uintptr_t)mem);
	int f = tt_probe();
	printf("probe: 0x%x\n", f);
	test_udp();
	test_gro();
	test_udp_slots();
	test_udp_sticky();
	test_mark();
	test_poll();
	test_tun_netlink();
	test_tun_slots();
	test_segment_fuzz();
	test_coalesce();
	free(mem);
	if (failures) {
		fprintf(stderr, "shim_test: %d failure(s)\n", failures);
		return 1;
	}
	printf("shim_test: all checks passed under ASan+UBSan\n");
	return 0;
}
