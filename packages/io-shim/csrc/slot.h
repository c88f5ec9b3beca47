/* slot.h - where slot i of a batch lies and how many bytes it holds. Two layouts answer
 * that: the stride layout (all slots one size, bufferPtr + i*stride) and a slot table
 * (each slot its own address and capacity). Every batch function asks only these, so the
 * two cannot drift apart. tt_batch_check has vetted the table before any of them runs. */
#ifndef TALTUN_SLOT_H
#define TALTUN_SLOT_H

#include "mem.h"

static inline tt_slot_entry tt_slot_entry_at(const tt_batch *b, uint32_t i)
{
	tt_slot_entry e;
	memcpy(&e, tt_ptr(b->slots + (uint64_t)i * TT_SLOT_ENTRY_SIZE), sizeof(e));
	return e;
}

static inline uint64_t tt_slot(const tt_batch *b, uint32_t i)
{
	return b->slots ? tt_slot_entry_at(b, i).addr : b->buffer + (uint64_t)i * b->stride;
}

/* Bytes a receive or read may put in slot i. The stride layout's batch-wide `capacity`
 * lets a caller keep room at the end of each slot (for a tag, say). */
static inline uint32_t tt_slot_room(const tt_batch *b, uint32_t i)
{
	if (b->slots)
		return tt_slot_entry_at(b, i).capacity;
	return b->capacity ? b->capacity : b->stride;
}

/* The most bytes a send or write may take from slot i: anything longer would read past
 * the slot, so the batch refuses it. */
static inline uint32_t tt_slot_limit(const tt_batch *b, uint32_t i)
{
	return b->slots ? tt_slot_entry_at(b, i).capacity : b->stride;
}

#endif
