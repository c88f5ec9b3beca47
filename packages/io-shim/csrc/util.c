/* util.c - small helpers: the address of caller memory, close, network namespaces, and
 * the checks every batch function makes on its control block. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include "slot.h"
#include "taltun_io.h"

/* The JS side passes a one-byte view of its WebAssembly.Memory once; ffi-rs hands us the
 * real backing store, so this is the base address every control block is relative to. */
uint64_t tt_mem_address(const uint8_t *p)
{
	return (uint64_t)(uintptr_t)p;
}

int32_t tt_close(int32_t fd)
{
	if (fd < 0)
		return -EBADF;
	/* Linux always releases the fd, even when close reports EINTR: never retry. */
	if (close(fd) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

/* Moves the calling thread (only it) into the network namespace at path and returns an fd
 * on the namespace it left, for tt_netns_restore. */
int32_t tt_netns_enter(const char *path)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	int target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0) {
		int e = errno;
		close(self);
		return -e;
	}
	if (setns(target, CLONE_NEWNET) < 0) {
		int e = errno;
		close(target);
		close(self);
		return -e;
	}
	close(target);
	return self;
}

int32_t tt_netns_restore(int32_t fd)
{
	if (fd < 0)
		return -EBADF;
	int rc = setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
	close(fd);
	return rc;
}

/* The TypeScript side validates too (bounds against the memory); this is the last line
 * so that a bad block from C callers cannot walk off the stack arrays. */
int32_t tt_batch_check(const tt_batch *b, int need_lengths)
{
	if (b->fd < 0)
		return -EBADF;
	if (b->count > TT_MAX_BATCH)
		return -EINVAL;
	if (b->count == 0)
		return 0;
	if (need_lengths && b->lengths == 0)
		return -EFAULT;
	if (b->slots) {
		/* A stride, buffer or batch-wide capacity beside a table would be a second
		 * answer to where a slot is and how big: refuse the ambiguity. */
		if (b->buffer || b->stride || b->capacity)
			return -EINVAL;
		for (uint32_t i = 0; i < b->count; i++) {
			tt_slot_entry e = tt_slot_entry_at(b, i);
			if (e.addr == 0)
				return -EFAULT;
			if (e.capacity == 0 || e.addr + e.capacity < e.addr)
				return -EINVAL;
		}
		return 0;
	}
	if (b->buffer == 0)
		return -EFAULT;
	/* Slot i owns [buffer + i*stride, buffer + (i+1)*stride): nothing may cross it. */
	if (b->stride == 0 || b->capacity > b->stride)
		return -EINVAL;
	return 0;
}

/* Does nothing: the floor of an FFI call, measured by the benchmarks. */
int32_t tt_nop(uint64_t cb)
{
	(void)cb;
	return 0;
}
