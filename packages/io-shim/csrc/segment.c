/* segment.c - turns one packet read from a TUN queue with a virtio-net header into plain
 * IP packets: a TCP or UDP super-packet (TSO/USO, up to 64 KiB) is cut into gso_size
 * segments with their own IP/TCP/UDP headers and checksums; a packet whose checksum the
 * kernel left partial (VIRTIO_NET_HDR_F_NEEDS_CSUM) gets it completed. This is the only
 * packet parsing in the shim, and all of it serves offload. */
#include <errno.h>
#include <linux/virtio_net.h>
#include <string.h>

#include "segment.h"

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }

/* RFC 1071 one's-complement sum, big-endian 16-bit words. */
static uint32_t sum16(const uint8_t *p, size_t len, uint32_t s)
{
	for (; len > 1; p += 2, len -= 2)
		s += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		s += (uint32_t)p[0] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* Where the headers of one packet are. */
typedef struct {
	int v6;
	uint32_t ip_len;  /* IP header bytes */
	uint32_t l4_len;  /* TCP or UDP header bytes */
	uint8_t proto;
} headers;

static int parse(const uint8_t *ip, uint32_t len, headers *h)
{
	if (len < 20)
		return -1;
	h->v6 = (ip[0] >> 4) == 6;
	if (!h->v6 && (ip[0] >> 4) == 4) {
		h->ip_len = (uint32_t)(ip[0] & 15) * 4;
		h->proto = ip[9];
	} else if (h->v6 && len >= 40) {
		h->ip_len = 40; /* the kernel does not offload packets with extension headers */
		h->proto = ip[6];
	} else {
		return -1;
	}
	if (h->ip_len < 20 || h->ip_len + 8 > len)
		return -1;
	if (h->proto == 6) {
		if (h->ip_len + 20 > len)
			return -1;
		h->l4_len = (uint32_t)(ip[h->ip_len + 12] >> 4) * 4;
		if (h->l4_len < 20)
			return -1;
	} else if (h->proto == 17) {
		h->l4_len = 8;
	} else {
		return -1;
	}
	return h->ip_len + h->l4_len <= len ? 0 : -1;
}

/* The TCP/UDP checksum of a whole packet, from scratch, with the pseudo-header. */
static void l4_checksum(uint8_t *ip, const headers *h, uint32_t l4_total)
{
	uint8_t *l4 = ip + h->ip_len;
	uint8_t *field = l4 + (h->proto == 6 ? 16 : 6);
	uint32_t s = h->v6 ? sum16(ip + 8, 32, 0) : sum16(ip + 12, 8, 0);
	s += h->proto + l4_total;
	put16(field, 0);
	uint16_t c = fold(sum16(l4, l4_total, s));
	put16(field, h->proto == 17 && c == 0 ? 0xffff : c);
}

int32_t tt_segment_count(const uint8_t *pkt, uint32_t len)
{
	const struct virtio_net_hdr *vh = (const void *)pkt;
	if (len < sizeof(*vh))
		return -1;
	uint8_t type = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	if (type == VIRTIO_NET_HDR_GSO_NONE)
		return 1;
	headers h;
	const uint8_t *ip = pkt + sizeof(*vh);
	uint32_t ip_total = len - (uint32_t)sizeof(*vh);
	if (parse(ip, ip_total, &h) < 0 || vh->gso_size == 0)
		return -1;
	uint32_t payload = ip_total - h.ip_len - h.l4_len;
	return (int32_t)((payload + vh->gso_size - 1) / vh->gso_size);
}

int32_t tt_segment_one(const uint8_t *pkt, uint32_t len, uint32_t index, uint8_t *out, uint32_t cap)
{
	const struct virtio_net_hdr *vh = (const void *)pkt;
	const uint8_t *ip = pkt + sizeof(*vh);
	uint32_t ip_total = len - (uint32_t)sizeof(*vh);
	uint8_t type = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	if (type == VIRTIO_NET_HDR_GSO_NONE) {
		if (ip_total > cap)
			return -EMSGSIZE;
		memcpy(out, ip, ip_total);
		if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
			/* The field holds the pseudo-header sum; summing from csum_start completes it. */
			uint32_t start = vh->csum_start, at = start + vh->csum_offset;
			if (at + 2 > ip_total)
				return -EINVAL;
			put16(out + at, fold(sum16(out + start, ip_total - start, 0)));
		}
		return (int32_t)ip_total;
	}
	headers h;
	if (parse(ip, ip_total, &h) < 0)
		return -EINVAL;
	uint32_t hdrs = h.ip_len + h.l4_len, payload = ip_total - hdrs;
	uint32_t off = index * vh->gso_size;
	if (off >= payload)
		return -EINVAL;
	uint32_t seg = payload - off < vh->gso_size ? payload - off : vh->gso_size;
	if (hdrs + seg > cap)
		return -EMSGSIZE;
	memcpy(out, ip, hdrs);
	memcpy(out + hdrs, ip + hdrs + off, seg);
	uint32_t total = hdrs + seg;
	if (h.v6) {
		put16(out + 4, (uint16_t)(total - 40));
	} else {
		put16(out + 2, (uint16_t)total);
		put16(out + 4, (uint16_t)(get16(ip + 4) + index));
		put16(out + 10, 0);
		put16(out + 10, fold(sum16(out, h.ip_len, 0)));
	}
	uint8_t *l4 = out + h.ip_len;
	if (h.proto == 6) {
		int last = off + seg == payload;
		put32(l4 + 4, get32(ip + h.ip_len + 4) + off);
		if (!last)
			l4[13] &= (uint8_t)~0x09; /* FIN and PSH only on the last segment */
		if (index > 0)
			l4[13] &= (uint8_t)~0x80; /* CWR only on the first */
	} else {
		put16(l4 + 4, (uint16_t)(h.l4_len + seg));
	}
	l4_checksum(out, &h, h.l4_len + seg);
	return (int32_t)total;
}

/* Whether the TCP checksum of the packet at ip verifies (pseudo-header included). */
static int tcp_checksum_ok(const uint8_t *ip, const headers *h, uint32_t total)
{
	uint32_t l4_total = total - h->ip_len;
	uint32_t s = h->v6 ? sum16(ip + 8, 32, 0) : sum16(ip + 12, 8, 0);
	s += h->proto + l4_total;
	return fold(sum16(ip + h->ip_len, l4_total, s)) == 0;
}

/* Whether q continues p's flow: same addresses, ports, ack, window, options and IP fields,
 * only the sequence number, lengths, IPv4 id and checksums may differ. */
static int same_flow(const uint8_t *p, const uint8_t *q, const headers *h)
{
	if (h->v6) {
		if (memcmp(p, q, 4) || memcmp(p + 6, q + 6, 34))
			return 0;
	} else if (memcmp(p, q, 2) || memcmp(p + 6, q + 6, 4) || memcmp(p + 12, q + 12, 8)) {
		return 0;
	}
	const uint8_t *a = p + h->ip_len, *b = q + h->ip_len;
	return !memcmp(a, b, 4) && !memcmp(a + 8, b + 8, 5) && !memcmp(a + 14, b + 14, 2) &&
	       !memcmp(a + 18, b + 18, h->l4_len - 18) && (b[13] & (uint8_t)~0x08) == (a[13] & (uint8_t)~0x08);
}

uint32_t tt_coalesce(const uint8_t *const *pkts, const uint32_t *lens, uint32_t n, uint8_t *out, uint32_t cap, uint32_t *used)
{
	struct virtio_net_hdr *vh = (void *)out;
	const uint8_t *p = pkts[0];
	headers h;
	*used = 1;
	/* Only plain data segments of TCP start a run: ACK, maybe PSH, nothing else. */
	if (n < 2 || parse(p, lens[0], &h) < 0 || h.proto != 6 || (!h.v6 && (h.ip_len != 20 || (get16(p + 6) & 0x3fff))) ||
	    (p[h.ip_len + 13] & (uint8_t)~0x18) != 0 || (p[h.ip_len + 13] & 0x08) || !tcp_checksum_ok(p, &h, lens[0]))
		return 0;
	uint32_t hdrs = h.ip_len + h.l4_len, mss = lens[0] - hdrs;
	if (mss == 0 || sizeof(*vh) + lens[0] > cap)
		return 0;
	memcpy(out + sizeof(*vh), p, lens[0]);
	uint32_t total = lens[0], next_seq = get32(p + h.ip_len + 4) + mss;
	uint8_t *ip = out + sizeof(*vh);
	for (uint32_t k = 1; k < n; k++) {
		const uint8_t *q = pkts[k];
		uint32_t seg = lens[k] - hdrs;
		if (!q || lens[k] <= hdrs || seg > mss || total + seg > 65535 || sizeof(*vh) + total + seg > cap)
			break;
		if (!same_flow(p, q, &h) || get32(q + h.ip_len + 4) != next_seq || !tcp_checksum_ok(q, &h, lens[k]))
			break;
		memcpy(ip + total, q + hdrs, seg);
		total += seg;
		next_seq += seg;
		*used = k + 1;
		ip[h.ip_len + 13] |= q[h.ip_len + 13] & 0x08; /* the run's PSH */
		if (seg < mss || (q[h.ip_len + 13] & 0x08))
			break; /* a short segment or PSH ends a run */
	}
	if (*used < 2)
		return 0;
	if (h.v6) {
		put16(ip + 4, (uint16_t)(total - 40));
	} else {
		put16(ip + 2, (uint16_t)total);
		put16(ip + 10, 0);
		put16(ip + 10, fold(sum16(ip, h.ip_len, 0)));
	}
	/* The kernel completes the checksum from csum_start: the field holds the pseudo-header sum. */
	uint32_t s = h.v6 ? sum16(ip + 8, 32, 0) : sum16(ip + 12, 8, 0);
	s += 6 + total - h.ip_len;
	put16(ip + h.ip_len + 16, (uint16_t)~fold(s));
	memset(vh, 0, sizeof(*vh));
	vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh->gso_type = h.v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	vh->hdr_len = (uint16_t)hdrs;
	vh->gso_size = (uint16_t)mss;
	vh->csum_start = (uint16_t)h.ip_len;
	vh->csum_offset = 16;
	return (uint32_t)sizeof(*vh) + total;
}
