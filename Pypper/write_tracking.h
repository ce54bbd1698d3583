/* Pypper/write_tracking.h: the write-tracking source. The kernel marks every page
 * written since it was last armed (userfaultfd asynchronous write-protection,
 * read back with PAGEMAP_SCAN, Linux >= 6.7); a tracker keeps, for each page of a few
 * areas, a history of the last 8 scans (a shift register: page heat) and decides
 * when to scan and which pages to re-arm within a CPU budget. Pure C: no Python, no
 * heap; Pypper/write_tracking_heap.c points it at the heap. Not thread-safe: one
 * thread at a time calls everything but wt_history (any thread) and wt_note_discard
 * (one producer at a time). */
#ifndef PYPPER_WRITE_TRACKING_H
#define PYPPER_WRITE_TRACKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WT_MAX_AREAS 4
#define WT_HISTORY_BITS 8          /* scans a page's history covers */
#define WT_PARK_AFTER 4            /* written in this many scans in a row: parked */
#define WT_PARK_GROUPS 8           /* a parked page is re-armed every this many scans */
#define WT_DISCARD_RING 256        /* discards noted between two scans (more: all reset) */
#define WT_VEC_LEN 1024            /* page runs one PAGEMAP_SCAN call returns */

/* The kernel side: a userfaultfd with asynchronous write-protection and the
 * process's pagemap. */
typedef struct {
    int uffd, pagemap;
    const char *route;             /* how the userfaultfd was obtained */
} wt_kernel;

/* Open both. 0, or -1 with one line in why saying what failed and why (errno), e.g.
 * "userfaultfd refused (EPERM): vm.unprivileged_userfaultfd=0 and no CAP_SYS_PTRACE".
 * simulate_errno (tests): fail as if the kernel had returned it. */
int wt_kernel_open(wt_kernel *k, int simulate_errno, char *why, size_t len);
void wt_kernel_close(wt_kernel *k);
/* The CPU time one first write to an armed page costs the writing thread here (64
 * pages of a scratch mapping, timed); 0 when it cannot be measured. */
uint64_t wt_measure_fault_ns(const wt_kernel *k);

typedef struct {
    char *base;
    size_t max_pages;              /* the area's extent: pages that may ever be tracked */
    size_t registered;             /* pages [0, registered) registered with the userfaultfd */
    size_t armed;                  /* pages [0, armed) went through one scan (armed) */
    size_t known;                  /* pages [0, known) were armed before the last scan:
                                    * bit 0 of their history is an observation */
    uint8_t *history;              /* per page: bit 0 the last scan, bit 7 eight scans ago */
    uint64_t *parked;              /* per page: hot, left unarmed (assumed written) */
    uint64_t *probation;           /* per page: unparked this scan: its report says nothing */
    uint64_t *written;             /* scratch: written in this scan */
} wt_area;

typedef struct {
    uint64_t interval_ns;          /* the usual interval (WT_INTERVAL_MS), of the program's CPU time */
    double budget;                 /* share of the program's time its write faults may take */
    uint64_t fault_ns;             /* estimated cost of one write fault to the program */
    bool park;                     /* re-arm pages written in every recent scan rarely */
} wt_params;

typedef struct {
    uint64_t scans, ioctls, scan_ns;   /* scan_ns: the scanning thread's CPU time */
    uint64_t written_pages;        /* reported written (all scans) */
    uint64_t faulted_pages;        /* of these, armed before: a fault the program paid */
    uint64_t zero_pages;           /* the zero page mapped by a read: not a write */
    uint64_t swapped_pages, huge_pages;   /* written pages that were swapped / in a THP */
    uint64_t parked_now, parks, unparks;
    uint64_t discards, discard_overflows;
    uint64_t registered_pages;
    uint64_t last_written, last_scan_ns, next_interval_ns;   /* last_scan_ns: CPU */
    int last_errno;                /* of a failed scan or registration */
    uint64_t scan_errors;
} wt_counters;

typedef struct {
    wt_kernel k;
    wt_params p;
    wt_area areas[WT_MAX_AREAS];
    int nareas;
    wt_counters c;
    uint64_t scan_no;
    /* Discarded ranges (MADV_DONTNEED): their history is reset at the next scan. */
    struct { uintptr_t start, end; } ring[WT_DISCARD_RING];
    unsigned ring_head, ring_tail;   /* atomics: producer / consumer */
    bool ring_overflow;              /* atomic */
    /* The scan's result buffer: struct page_region (3 x u64) x WT_VEC_LEN. */
    uint64_t vec[3 * WT_VEC_LEN];
} wt_tracker;

void wt_params_default(wt_params *p);
/* Take an open kernel side. 0. */
void wt_tracker_init(wt_tracker *t, const wt_kernel *k, const wt_params *p);
/* Track an area of up to max_len bytes (page aligned) from base; nothing is
 * registered yet (wt_grow). The area's index, or -1 (too many, or no memory). */
int wt_add_area(wt_tracker *t, void *base, size_t max_len);
/* The area's first `len` bytes are committed memory: register what is new. Nothing
 * is armed here: the next scan arms the pages that are present (arming unpopulated
 * memory would build page tables for it). 0, or -errno. */
int wt_grow(wt_tracker *t, int area, size_t len);
/* Scan every area: pages written since the last scan get a 1 in their history,
 * others a 0, and are armed again (but parked ones). Returns the pages seen written,
 * or -errno. */
long wt_scan(wt_tracker *t);
/* The interval until the next scan, from the last scan's figures and the budget. */
uint64_t wt_next_interval_ns(const wt_tracker *t);
/* [addr, addr+len) was given back (MADV_DONTNEED): its history is forgotten at the
 * next scan. Lock-free; one caller at a time. */
void wt_note_discard(wt_tracker *t, const void *addr, size_t len);
/* addr's page history (bit 0: written before the last scan), or -1 when the page is
 * not tracked. Any thread. */
int wt_history(const wt_tracker *t, const void *addr);
/* Whether addr's page was written in the last interval scanned: 1 or 0, or -1 when
 * that is not known (not tracked, or first armed by the last scan). Any thread. */
int wt_written_last(const wt_tracker *t, const void *addr);
/* Unregister every area (this disarms its pages) and close the kernel side; the
 * histories stay readable. */
void wt_tracker_disarm(wt_tracker *t);
/* Disarm, and free the tracker's memory. */
void wt_tracker_fini(wt_tracker *t);
/* In a forked child: the userfaultfd and pagemap belong to the parent's memory:
 * close them without a call on them, free the memory. */
void wt_tracker_forget(wt_tracker *t);

/* Heat of a history: written in k of the last WT_HISTORY_BITS scans. */
static inline int wt_heat(int history) { return history < 0 ? -1 : __builtin_popcount((unsigned)history); }

#endif
