/*
 * taltun_io.h - the C side of @taltun/io-shim: system calls for TUN, rtnetlink and
 * batched UDP, and nothing else (no protocol state, no packet parsing).
 *
 * Hot-path functions take ONE argument, the address of a tt_batch control block that
 * lives in the caller's memory (the shared WebAssembly.Memory of the data plane), so one
 * FFI call moves a whole batch. They return the number of packets done (>= 0) or -errno.
 * Slow-path functions return >= 0 on success or -errno.
 *
 * The layouts below are a contract with src/batch.ts and src/address.ts; the
 * _Static_asserts hold them to the documented offsets.
 */
#ifndef TALTUN_IO_H
#define TALTUN_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Only the functions below marked TT_API leave the library (built -fvisibility=hidden). */
#define TT_API __attribute__((visibility("default")))

#define TT_MAX_BATCH 64
#define TT_MAX_POLL_FDS 8
#define TT_ADDR_SIZE 24
#define TT_VNET_HDR_LEN 10

/* tt_batch.flags for udp send. */
#define TT_SEND_COALESCE 0x1u /* merge same-destination same-size runs with UDP_SEGMENT */

/* tt_batch.flags for tun read/write: the queue was opened with a vnet header. Reads then
 * cut offload super-packets into plain IP packets (segment.c); writes add an empty header. */
#define TT_TUN_VNET 0x2u

/* tt_tun_open flags. */
#define TT_TUN_MULTI_QUEUE 0x1u
#define TT_TUN_VNET_HDR 0x2u
#define TT_TUN_OFFLOAD 0x4u

/* tt_udp_open flags. */
#define TT_UDP_REUSEPORT 0x1u
#define TT_UDP_GRO 0x2u
#define TT_UDP_V6ONLY 0x4u
#define TT_UDP_GSO 0x8u /* only checks that UDP_SEGMENT exists; sizes go per message */

/* tt_probe() result bits. */
#define TT_FEAT_TUN 0x1u
#define TT_FEAT_TUN_MULTI_QUEUE 0x2u
#define TT_FEAT_TUN_VNET_HDR 0x4u
#define TT_FEAT_TUN_OFFLOAD_TSO 0x8u
#define TT_FEAT_TUN_OFFLOAD_USO 0x10u
#define TT_FEAT_UDP_SEGMENT 0x20u
#define TT_FEAT_UDP_GRO 0x40u
#define TT_FEAT_SO_REUSEPORT 0x80u
#define TT_FEAT_RCVBUFFORCE 0x100u

/* One entry of a slot table (tt_batch.slots): where a slot is and how many bytes it holds.
 * A table lets every slot of a batch have its own size (a 64 KiB slot for a GRO train
 * beside 2 KiB ones) where the stride layout gives all of them one. Entries are read with
 * memcpy, so the table needs no alignment. */
typedef struct tt_slot_entry {
	uint64_t addr;     /*  0: absolute address of the slot's first byte */
	uint32_t capacity; /*  8: bytes the slot holds, > 0 */
	uint32_t reserved; /* 12: write 0 */
} tt_slot_entry;

#define TT_SLOT_ENTRY_SIZE 16
_Static_assert(sizeof(tt_slot_entry) == TT_SLOT_ENTRY_SIZE, "slot entry is 16 bytes");
_Static_assert(offsetof(tt_slot_entry, capacity) == 8, "capacity at 8");

/* The control block: 128 bytes, little-endian, 8-byte aligned. */
typedef struct tt_batch {
	int32_t fd;           /*  0 in: socket or TUN fd */
	uint32_t flags;       /*  4 in: op flags (TT_SEND_*) */
	uint32_t count;       /*  8 in: slots; out: packets done */
	uint32_t stride;      /* 12 in: bytes between slots (0 with a slot table) */
	uint64_t buffer;      /* 16 in: address of slot 0 (0 with a slot table) */
	uint64_t lengths;     /* 24 in (send/write) / out (recv/read): u32[count] */
	uint64_t addrs;       /* 32 in (send) / out (recv): tt_addr records; recv may pass 0 */
	uint64_t segs;        /* 40 out (recv): u32[count] GRO segment size, 0 = single; may be 0 */
	uint32_t capacity;    /* 48 in (recv/read): bytes available per slot, 0 = stride (0 with a slot table) */
	uint32_t seg_size;    /* 52 in (send): UDP_SEGMENT size for slots longer than it, 0 = off */
	uint32_t err;         /* 56 out: errno that stopped or dropped a packet, 0 = none */
	int32_t timeout_ms;   /* 60 in (poll): -1 = forever */
	uint32_t ready;       /* 64 out (poll): bit i = poll_fds[i] readable (or error/hangup) */
	uint32_t reserved;    /* 68 */
	union {
		int32_t poll_fds[TT_MAX_POLL_FDS]; /* 72 in (poll): count = number used */
		struct {
			uint64_t gro;       /* 72 in (udp recv): tt_gro_area, 0 = receive straight into the slots */
			uint32_t truncated; /* 80 out (udp recv with gro): datagrams or segments dropped, cut
					     * short (MSG_TRUNC) or longer than their slot */
			uint32_t trains;    /* 84 out (udp recv with gro): datagrams that held several segments */
			uint32_t pad[4];    /* 88 */
		};
	};
	uint64_t slots;       /* 104 in: tt_slot_entry[count], or 0 = the stride layout */
	uint64_t locals;      /* 112 udp: tt_local[count]; recv out (where each datagram arrived), send in
			       * (source of slot i, family 0 = the kernel's choice; one the kernel refused
			       * comes back with family 0, its address kept); 0 = not wanted / none */
	uint32_t fallbacks;   /* 120 out (udp send): packets sent without their source (it was refused) */
	uint32_t gso_fallbacks; /* 124 out (udp send): coalesced messages the kernel refused, sent one by one */
} tt_batch;

_Static_assert(sizeof(tt_batch) == 128, "control block is 128 bytes");
_Static_assert(offsetof(tt_batch, buffer) == 16, "buffer at 16");
_Static_assert(offsetof(tt_batch, capacity) == 48, "capacity at 48");
_Static_assert(offsetof(tt_batch, err) == 56, "err at 56");
_Static_assert(offsetof(tt_batch, ready) == 64, "ready at 64");
_Static_assert(offsetof(tt_batch, poll_fds) == 72, "poll_fds at 72");
_Static_assert(offsetof(tt_batch, gro) == 72, "gro at 72");
_Static_assert(offsetof(tt_batch, truncated) == 80, "truncated at 80");
_Static_assert(offsetof(tt_batch, trains) == 84, "trains at 84");
_Static_assert(offsetof(tt_batch, slots) == 104, "slots at 104");
_Static_assert(offsetof(tt_batch, locals) == 112, "locals at 112");
_Static_assert(offsetof(tt_batch, fallbacks) == 120, "fallbacks at 120");
_Static_assert(offsetof(tt_batch, gso_fallbacks) == 124, "gso_fallbacks at 124");

/* A peer address record: 24 bytes. Read and written with memcpy (callers' records need
 * only 4-byte alignment, and memcpy keeps that free of undefined behaviour). */
typedef struct tt_addr {
	uint16_t family;   /*  0: AF_INET (2) or AF_INET6 (10) */
	uint16_t port;     /*  2: host byte order */
	uint8_t addr[16];  /*  4: IPv4 in the first 4 bytes, network order */
	uint32_t scope_id; /* 20 */
} tt_addr;

_Static_assert(sizeof(tt_addr) == TT_ADDR_SIZE, "address record is 24 bytes");

/* A local address record: 24 bytes, the address a datagram arrived at (recv) or is to
 * leave from (send), for sticky source addresses. Family 0 = none. The ifindex is the
 * interface the datagram came in on; a send uses it only to scope an IPv6 link-local
 * source (elsewhere the route to the peer picks the interface, as for a bound socket). */
typedef struct tt_local {
	uint16_t family;   /*  0: AF_INET, AF_INET6, or 0 = none */
	uint16_t reserved; /*  2: 0 */
	uint8_t addr[16];  /*  4: IPv4 in the first 4 bytes, network order */
	uint32_t ifindex;  /* 20 */
} tt_local;

#define TT_LOCAL_SIZE 24
_Static_assert(sizeof(tt_local) == TT_LOCAL_SIZE, "local address record is 24 bytes");

/* A GRO area (tt_batch.gro): where a udp recv batch receives whole datagrams, GRO trains of
 * up to 64 KiB among them, before it cuts them into the caller's slots, one transport
 * message (segment) per slot. What did not fit in this batch's slots stays here, described
 * by the header, and is handed out first by the next call, so nothing is lost or reordered
 * when trains hold more segments than a batch has slots. The caller owns the memory, fills
 * `buffers` and `buf_size` once, zeroes the rest, and leaves it alone afterwards.
 *
 *   0              header (tt_gro_head, 32 bytes)
 *   32             TT_GRO_MAX_BUFFERS records (tt_gro_held, 56 bytes each): one per buffer
 *   TT_GRO_DATA    `buffers` receive buffers of `buf_size` bytes each, one datagram each
 *
 * Its size is TT_GRO_DATA + buffers * buf_size. One recvmmsg takes at most `buffers`
 * datagrams (fewer when fewer slots are free), so single datagrams cost one system call per
 * `buffers` of them inside the one FFI call; trains cost one per `buffers` trains. */
#define TT_GRO_MAX_BUFFERS 64
#define TT_GRO_DATA 4096

typedef struct tt_gro_head {
	uint32_t buffers;  /*  0 in: receive buffers, 1..TT_GRO_MAX_BUFFERS */
	uint32_t buf_size; /*  4 in: bytes of each (65536 takes any datagram) */
	uint32_t held;     /*  8 state: datagrams in the buffers from the last recvmmsg, 0 = none */
	uint32_t next;     /* 12 state: the first of them not yet wholly handed out */
	uint32_t offset;   /* 16 state: bytes of that one already handed out */
	uint32_t reserved[3]; /* 20 */
} tt_gro_head;

/* What the kernel said about the datagram in buffer i. */
typedef struct tt_gro_held {
	uint32_t len;   /*  0: bytes received */
	uint32_t seg;   /*  4: GRO segment size, 0 = one datagram; TT_GRO_DROP = cut short, skip it */
	tt_addr from;   /*  8: its sender */
	tt_local local; /* 32: where it arrived */
} tt_gro_held;

#define TT_GRO_DROP 0xffffffffu
#define TT_GRO_HEAD_SIZE 32
#define TT_GRO_HELD_SIZE 56
_Static_assert(sizeof(tt_gro_head) == TT_GRO_HEAD_SIZE, "GRO area header is 32 bytes");
_Static_assert(sizeof(tt_gro_held) == TT_GRO_HELD_SIZE, "GRO held record is 56 bytes");
_Static_assert(offsetof(tt_gro_held, from) == 8 && offsetof(tt_gro_held, local) == 32, "held record fields");
_Static_assert(TT_GRO_HEAD_SIZE + TT_GRO_MAX_BUFFERS * TT_GRO_HELD_SIZE <= TT_GRO_DATA, "records fit before the data");

/* util.c */
TT_API uint64_t tt_mem_address(const uint8_t *p);
TT_API int32_t tt_close(int32_t fd);
TT_API int32_t tt_nop(uint64_t cb);
TT_API int32_t tt_netns_enter(const char *path);
TT_API int32_t tt_netns_restore(int32_t fd);
int32_t tt_batch_check(const tt_batch *b, int need_lengths);

/* addr.c */
int tt_addr_to_sockaddr(const tt_addr *rec, struct sockaddr_storage *ss, socklen_t *len);
void tt_addr_from_sockaddr(const struct sockaddr_storage *ss, tt_addr *rec);

/* udp.c */
TT_API int32_t tt_udp_open(int32_t family, const uint8_t *addr16, int32_t port, int32_t flags, int32_t rcvbuf, int32_t sndbuf, int32_t mark);
TT_API int32_t tt_udp_port(int32_t fd);
TT_API int32_t tt_socket_set_mark(int32_t fd, int32_t mark);
TT_API int32_t tt_socket_get_mark(int32_t fd, uint8_t *out4);
TT_API int32_t tt_udp_recv_batch(uint64_t cb);
TT_API int32_t tt_udp_send_batch(uint64_t cb);

/* tun.c */
TT_API int32_t tt_tun_open(const char *name, int32_t flags, uint8_t *out20);
TT_API int32_t tt_tun_read_batch(uint64_t cb);
TT_API int32_t tt_tun_write_batch(uint64_t cb);
TT_API int32_t tt_tun_info(int32_t fd, uint8_t *out24);

/* netlink.c */
TT_API int32_t tt_link_index(const char *name);
TT_API int32_t tt_link_set_up(const char *name, int32_t up);
TT_API int32_t tt_link_set_mtu(const char *name, int32_t mtu);
TT_API int32_t tt_addr_change(const char *name, int32_t add, int32_t family, const uint8_t *addr16, int32_t prefix);
TT_API int32_t tt_route_change(const char *name, int32_t add, int32_t family, const uint8_t *addr16, int32_t prefix);

/* poll.c */
TT_API int32_t tt_poll_wait(uint64_t cb);
TT_API int32_t tt_eventfd_open(void);
TT_API int32_t tt_eventfd_write(int32_t fd);
TT_API int32_t tt_eventfd_read(int32_t fd);

/* probe.c */
TT_API int32_t tt_probe(void);

#endif
