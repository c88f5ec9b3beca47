/* addr.c - peer address records (24 bytes, see taltun_io.h) to and from sockaddrs.
 * IPv4-mapped IPv6 addresses are reported as IPv4, so a dual-stack socket's peers look
 * the same as a v4 socket's. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "taltun_io.h"

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* A v4 record becomes a sockaddr_in even for an IPv6 socket: Linux sends from a
 * dual-stack socket to a sockaddr_in (udpv6_sendmsg hands it to the IPv4 path), so no
 * mapping is needed and the socket's family need not be asked for every batch. */
int tt_addr_to_sockaddr(const tt_addr *rec, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (rec->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(rec->port);
		memcpy(&s4->sin_addr, rec->addr, 4);
		*len = sizeof(*s4);
		return 0;
	}
	if (rec->family != AF_INET6)
		return -EAFNOSUPPORT;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(rec->port);
	memcpy(s6->sin6_addr.s6_addr, rec->addr, 16);
	s6->sin6_scope_id = rec->scope_id;
	*len = sizeof(*s6);
	return 0;
}

void tt_addr_from_sockaddr(const struct sockaddr_storage *ss, tt_addr *rec)
{
	memset(rec, 0, sizeof(*rec));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		rec->family = AF_INET;
		rec->port = ntohs(s4->sin_port);
		memcpy(rec->addr, &s4->sin_addr, 4);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		rec->port = ntohs(s6->sin6_port);
		if (memcmp(s6->sin6_addr.s6_addr, v4mapped_prefix, 12) == 0) {
			rec->family = AF_INET;
			memcpy(rec->addr, s6->sin6_addr.s6_addr + 12, 4);
		} else {
			rec->family = AF_INET6;
			memcpy(rec->addr, s6->sin6_addr.s6_addr, 16);
			rec->scope_id = s6->sin6_scope_id;
		}
	}
}
