/* poll.c - waiting for readiness, and the eventfd that lets the control plane wake a
 * worker blocked here at once (to stop it, or to hand it work). */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "mem.h"
#include "taltun_io.h"

/* Waits on cb->poll_fds[0..count) for readability (and writability for fds whose bit is
 * set in cb->flags). Returns the number of ready fds, 0 on timeout or signal, or -errno;
 * cb->ready gets bit i for each ready fd. An eventfd stays readable until read, so every
 * worker polling the same stop eventfd sees it. */
int32_t tt_poll_wait(uint64_t cb)
{
	tt_batch *b = tt_ptr(cb);
	b->err = 0;
	b->ready = 0;
	uint32_t n = b->count;
	if (n == 0 || n > TT_MAX_POLL_FDS) {
		b->err = EINVAL;
		return -EINVAL;
	}
	struct pollfd pfd[TT_MAX_POLL_FDS];
	for (uint32_t i = 0; i < n; i++) {
		if (b->poll_fds[i] < 0) {
			b->err = EBADF;
			return -EBADF;
		}
		pfd[i].fd = b->poll_fds[i];
		pfd[i].events = (short)(POLLIN | ((b->flags >> i) & 1u ? POLLOUT : 0));
		pfd[i].revents = 0;
	}
	int r = poll(pfd, n, b->timeout_ms < 0 ? -1 : b->timeout_ms);
	if (r < 0) {
		if (errno == EINTR)
			return 0;
		b->err = (uint32_t)errno;
		return -errno;
	}
	uint32_t ready = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (pfd[i].revents & POLLNVAL) {
			b->err = EBADF;
			return -EBADF;
		}
		if (pfd[i].revents)
			ready |= 1u << i;
	}
	b->ready = ready;
	return r;
}

int32_t tt_eventfd_open(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int32_t tt_eventfd_write(int32_t fd)
{
	uint64_t one = 1;
	if (fd < 0)
		return -EBADF;
	/* EAGAIN means the counter is at its maximum: it is readable already. */
	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

/* Resets the eventfd; returns how many writes it had absorbed (capped to INT32_MAX). */
int32_t tt_eventfd_read(int32_t fd)
{
	uint64_t v = 0;
	if (fd < 0)
		return -EBADF;
	if (read(fd, &v, sizeof(v)) < 0)
		return errno == EAGAIN ? 0 : -errno;
	return v > INT32_MAX ? INT32_MAX : (int32_t)v;
}
