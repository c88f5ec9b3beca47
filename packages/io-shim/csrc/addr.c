/* addr.c - peer address records (24 bytes, see taltun_io.h) to and from sockaddrs.
 * IPv4-mapped IPv6 addresses are reported as IPv4, so a dual-stack socket's peers look
 * the same as a v4 socket's. */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "taltun_io.h"

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int tt_addr_to_sockaddr(const tt_addr *rec, int sock_family, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (rec->family == AF_INET && sock_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(rec->port);
		memcpy(&s4->sin_addr, rec->addr, 4);
		*len = sizeof(*s4);
		return 0;
	}
	if (sock_family != AF_INET6)
		return -EAFNOSUPPORT;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(rec->port);
	if (rec->family == AF_INET) {
		memcpy(s6->sin6_addr.s6_addr, v4mapped_prefix, 12);
		memcpy(s6->sin6_addr.s6_addr + 12, rec->addr, 4);
	} else if (rec->family == AF_INET6) {
		memcpy(s6->sin6_addr.s6_addr, rec->addr, 16);
		s6->sin6_scope_id = rec->scope_id;
	} else {
		return -EAFNOSUPPORT;
	}
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
