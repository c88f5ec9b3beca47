/* mem.h - loads and stores into caller memory. Every access goes through memcpy so that
 * arrays at any alignment are defined behaviour; compilers turn these into plain moves. */
#ifndef TALTUN_MEM_H
#define TALTUN_MEM_H

#include <stdint.h>
#include <string.h>

#include "taltun_io.h"

static inline void *tt_ptr(uint64_t addr)
{
	return (void *)(uintptr_t)addr;
}

static inline uint32_t tt_get_u32(uint64_t base, uint32_t i)
{
	uint32_t v;
	memcpy(&v, tt_ptr(base + (uint64_t)i * 4), 4);
	return v;
}

static inline void tt_put_u32(uint64_t base, uint32_t i, uint32_t v)
{
	memcpy(tt_ptr(base + (uint64_t)i * 4), &v, 4);
}

#endif
