/* Objects/retain.h: the retention policy of freed memory. Pure policy and counters:
 * how many idle bytes (freed but still committed) the heap may keep, learnt from the
 * program's own reuse, and when idle memory is stale. Objects/trim.c carries it out;
 * region.c and large.c report the idle bytes they hold. Internal to Objects/. */
#ifndef PYPPER_RETAIN_H
#define PYPPER_RETAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The bound never learns below this: small temporaries (up to 1 MiB) are reused
 * from the start, without a purge and fault-in per allocation. */
#define RETAIN_BOUND_MIN ((uint64_t)1 << 20)

/* max_bytes: ceiling of the learnt bound in bytes (0 with max_percent 0: keep
 * nothing, every freed run and arena goes back at once); max_percent (when
 * max_bytes is 0): ceiling as a share of the heap's committed memory in use;
 * delay_ms: idle memory not reused for this long is given back (0: at once). */
void retain_configure(uint64_t max_bytes, double max_percent, uint32_t delay_ms);

/* Milliseconds of a monotonic coarse clock (a vDSO read); tests may replace it. */
uint64_t retain_now(void);
void retain_set_clock(uint64_t (*now_ms)(void));

/* Idle bytes appeared (memory freed and kept committed) or went away (reused or
 * purged). */
void retain_idle_add(uint64_t bytes);
void retain_idle_sub(uint64_t bytes);
uint64_t retain_idle(void);
/* Any thread, no lock (a hint for the sampler thread): the idle bytes. */
uint64_t retain_idle_hint(void);

/* Emptied pool and medium arenas (blocks up to 32 KiB) stay idle only up to
 * RETAIN_POOLS_MAX (pymalloc gives an emptied arena back at once), whatever the bound
 * has learnt from large blocks: whether one of `bytes` may stay idle now, with
 * `idle_pools` bytes of them idle already (else it goes back at once). */
#define RETAIN_POOLS_MAX RETAIN_BOUND_MIN
bool retain_pools_keep(uint64_t idle_pools, uint64_t bytes);

/* The heap committed `bytes` of fresh arenas: while memory is idle, as much of it is
 * owed back (see retain_excess). */
void retain_note_growth(uint64_t bytes);
/* `bytes` of fresh pages were faulted into a large arena for a new page run: while
 * memory is idle, as much is owed back from released arenas (the page debt; trim.c
 * pays it in whole arenas, at least one). take returns the debt and clears it. A
 * debt takes only idle memory beyond what debts learnt to leave (a debt's purge that
 * fresh memory replaced within a second teaches it; heap_bytes: the heap in use, for
 * a percentage ceiling). */
void retain_note_page_growth(uint64_t bytes);
uint64_t retain_take_page_debt(uint64_t heap_bytes);

/* `bytes` of memory that is not resident (fresh or purged) was handed out. For a
 * large block (large: a page run or span), if a purge of large-block memory of at
 * least that size happened for the bound within a second, that purge was a mistake
 * (the program reuses that much) and the bound grows to cover it. */
void retain_note_fresh(uint64_t bytes, bool large);

/* Bytes to purge now: what exceeds the bound (with hysteresis: down to three
 * quarters of it) or, if more, the debt of fresh memory, which this settles; 0 when
 * nothing is owed. heap_bytes: committed bytes in use. */
uint64_t retain_excess(uint64_t heap_bytes);
/* Whether the heap is shrinking: RETAIN_BURST_FREES frees or more of large blocks
 * (page runs, spans) since the last allocation above the pools' sizes, which left
 * more than the bound idle; and whether idle memory is within
 * RETAIN_DEFER_FACTOR times the bound. While it shrinks within that factor, the
 * purges that retain_excess asks for after a free are only of whole arenas, and past
 * it of the densest arenas first (Objects/trim.c, heap_trim_freed). A purge costs a
 * system call and a TLB flush whatever its size (35-45 us each in this VM); giving
 * back 3,000 freed buffers of 40-200 KB one by one took 3,500 madvise calls and 0.19
 * s, where stock's heap, coalesced, took 20 calls and 0.02 s. Not between
 * allocations: a block freed as the next is made (a loop's temporaries, one free or
 * two an allocation) pays oldest first as before, or what earlier phases left idle
 * stays under the bound (tmp_bytes.py: 1 MB more peak when one free of a block larger
 * than the bound counted as shrinking). */
#define RETAIN_DEFER_FACTOR 4u
#define RETAIN_BURST_FREES 8u
typedef enum { RETAIN_NOT_SHRINKING, RETAIN_SHRINKING, RETAIN_SHRINKING_PAST } retain_burst;
retain_burst retain_shrinking(uint64_t heap_bytes);
/* A block above the pools' sizes was allocated (and the trim after it made). */
void retain_mark_allocation(void);
/* A large block (page run or span) was freed. */
void retain_note_large_free(void);
/* Whether the last retain_excess was a debt (fresh memory taken while memory was
 * idle), which any idle memory pays. */
bool retain_paying_debt(void);
/* Cheap: false when retain_excess would certainly be 0 (nothing to compute). */
bool retain_may_owe(void);
/* Idle memory freed before this time is stale. */
uint64_t retain_stale_before(uint64_t now);
/* Whether the periodic stale check is due (called from allocation slow paths);
 * cheap: a countdown, then a clock read. */
bool retain_tick_due(void);

/* A purge happened: for the bound or of stale memory; large: of memory that held
 * large blocks (page runs, spans), whose purges teach the bound. */
void retain_note_purged(uint64_t bytes, bool stale, bool large);

typedef struct {
    uint64_t idle_bytes;       /* freed, still committed, reusable without faults */
    uint64_t bound;            /* idle bytes kept now (learnt) */
    uint64_t bound_max;        /* its ceiling (RETAIN_MAX) against the current heap */
    uint32_t delay_ms;
    uint64_t purges, purged_bytes;        /* for the bound */
    uint64_t stale_purges, stale_bytes;   /* idle longer than the delay */
    uint64_t mistakes;                    /* purges followed by fresh memory: bound grew */
} retain_stats;

void retain_get_stats(uint64_t heap_bytes, retain_stats *out);

#endif
