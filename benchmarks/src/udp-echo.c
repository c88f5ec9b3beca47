/* udp-echo.c - the C twin of udp-echo.ts: the same batch echo loop over loopback in
 * plain C (recvmmsg/sendmmsg, no FFI), so the TypeScript figure has a ceiling to be
 * compared with. Usage: udp-echo <seconds> <max-datagrams> <batch> <size>; prints JSON.
 * Run inside a network namespace (the benchmark does). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXB 64
#define STRIDE 2048

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int sock(struct sockaddr_in *bound)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	int big = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big));
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("bind");
		exit(1);
	}
	socklen_t l = sizeof(*bound);
	getsockname(fd, (struct sockaddr *)bound, &l);
	return fd;
}

static char bufs[2][MAXB * STRIDE];
static struct mmsghdr msgs[MAXB];
static struct iovec iov[MAXB];
static struct sockaddr_in names[MAXB];

/* Receives exactly n datagrams (or fewer after a 100 ms silence: loss), one batch a call. */
static int recv_n(int fd, char *buf, int n, long *calls)
{
	int got = 0;
	while (got < n) {
		for (int i = 0; i < n - got; i++) {
			iov[i] = (struct iovec){buf + (size_t)(got + i) * STRIDE, STRIDE};
			msgs[i].msg_hdr = (struct msghdr){.msg_name = &names[got + i], .msg_namelen = sizeof(names[0]), .msg_iov = &iov[i], .msg_iovlen = 1};
		}
		int r = recvmmsg(fd, msgs, n - got, MSG_DONTWAIT, NULL);
		(*calls)++;
		if (r > 0) {
			got += r;
			continue;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		(*calls)++;
		if (poll(&p, 1, 100) == 0)
			break;
	}
	return got;
}

static int send_n(int fd, char *buf, int n, int size, struct sockaddr_in *to, int per_msg_to, long *calls)
{
	for (int i = 0; i < n; i++) {
		iov[i] = (struct iovec){buf + (size_t)i * STRIDE, (size_t)size};
		msgs[i].msg_hdr = (struct msghdr){.msg_name = per_msg_to ? &names[i] : to, .msg_namelen = sizeof(*to), .msg_iov = &iov[i], .msg_iovlen = 1};
	}
	int r = sendmmsg(fd, msgs, n, MSG_DONTWAIT);
	(*calls)++;
	return r < 0 ? 0 : r;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2;
	long max = argc > 2 ? atol(argv[2]) : 4000000;
	int batch = argc > 3 ? atoi(argv[3]) : 64, size = argc > 4 ? atoi(argv[4]) : 1400;
	if (batch < 1 || batch > MAXB || size < 1 || size > STRIDE)
		return 2;
	struct sockaddr_in aa, ba;
	int a = sock(&aa), b = sock(&ba);
	memset(bufs, 0x5a, sizeof(bufs));
	long moved = 0, calls = 0, lost = 0;
	double t0 = now(), t1 = t0;
	while (moved < max && (t1 = now()) - t0 < secs) {
		int s = send_n(a, bufs[0], batch, size, &ba, 0, &calls);
		int r = recv_n(b, bufs[1], s, &calls);
		int e = send_n(b, bufs[1], r, size, NULL, 1, &calls);
		int back = recv_n(a, bufs[0], e, &calls);
		moved += r + back;
		lost += (batch - r) + (e - back);
	}
	t1 = now();
	printf("{\"datagrams\":%ld,\"seconds\":%.6f,\"calls\":%ld,\"lost\":%ld}\n", moved, t1 - t0, calls, lost);
	return 0;
}
