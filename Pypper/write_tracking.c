/* Pypper/write_tracking.c: the write-tracking source (write_tracking.h): the
 * userfaultfd and pagemap file, registration of areas, the scan that reads and
 * re-arms written pages, per-page history, parking of always-written pages, and the
 * interval the CPU budget allows. Kernel facts this relies on (measured, see
 * Doc/write-tracking.md): a page present and not write-protected reads as WRITTEN;
 * a page never populated has no category and costs nothing; a scan with
 * PM_SCAN_WP_MATCHING arms exactly the pages it reports; UFFDIO_UNREGISTER removes
 * the protection of the range; MADV_DONTNEED leaves an anonymous page unpopulated. */
#include "write_tracking.h"
#include "clock.h"
#include "pagemap_scan.h"
#include "own_memory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define PAGE_BITS 12u
#define WORDS(pages) (((pages) + 63) / 64)

/* ---- the kernel side ---- */

static const char *errno_name(int e)
{
    switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOSYS: return "ENOSYS";
    case EINVAL: return "EINVAL";
    case ENOENT: return "ENOENT";
    case ENOTTY: return "ENOTTY";
    case EMFILE: return "EMFILE";
    case ENOMEM: return "ENOMEM";
    default: return "error";
    }
}

static int read_sysctl(const char *path)
{
    FILE *f = fopen(path, "r");
    int v = -1;
    if (f) {
        if (fscanf(f, "%d", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

/* A userfaultfd: user-mode-only first (allowed without privilege; asynchronous
 * write faults are resolved in the kernel, so faults taken inside system calls work
 * too), then a full one, then one from /dev/userfaultfd. */
static int open_uffd(const char **route, int *err)
{
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    if (fd >= 0) {
        *route = "userfaultfd(UFFD_USER_MODE_ONLY)";
        return fd;
    }
    *err = errno;
    if (*err == ENOSYS)
        return -1;
    fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) {
        *route = "userfaultfd()";
        return fd;
    }
    int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (dev >= 0) {
        fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
        int e = errno;
        close(dev);
        if (fd >= 0) {
            *route = "/dev/userfaultfd";
            return fd;
        }
        *err = e;
    }
    return -1;
}

int wt_kernel_open(wt_kernel *k, int simulate_errno, char *why, size_t len)
{
    k->uffd = k->pagemap = -1;
    k->route = "none";
    int err = 0;
    int fd = simulate_errno ? (err = simulate_errno, -1) : open_uffd(&k->route, &err);
    if (fd < 0) {
        if (err == ENOSYS)
            snprintf(why, len, "no userfaultfd in this kernel (ENOSYS)");
        else if (err == EPERM || err == EACCES)
            snprintf(why, len, "userfaultfd refused (%s%s): vm.unprivileged_userfaultfd=%d, "
                     "no CAP_SYS_PTRACE, /dev/userfaultfd not accessible",
                     errno_name(err), simulate_errno ? ", simulated" : "",
                     read_sysctl("/proc/sys/vm/unprivileged_userfaultfd"));
        else
            snprintf(why, len, "userfaultfd failed (%s: %s%s)", errno_name(err), strerror(err),
                     simulate_errno ? ", simulated" : "");
        return -1;
    }
    struct uffdio_api api = {.api = UFFD_API,
                             .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED};
    if (ioctl(fd, UFFDIO_API, &api) != 0) {
        err = errno;
        close(fd);
        snprintf(why, len, "userfaultfd without asynchronous write-protection "
                 "(UFFD_FEATURE_WP_ASYNC, Linux >= 6.7): UFFDIO_API %s", errno_name(err));
        return -1;
    }
    int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (pm < 0) {
        err = errno;
        close(fd);
        snprintf(why, len, "cannot open /proc/self/pagemap (%s)", errno_name(err));
        return -1;
    }
    /* An empty walk: ENOTTY (or EINVAL) when the kernel has no PAGEMAP_SCAN. */
    struct pm_scan_arg arg = {.size = sizeof(arg)};
    if (ioctl(pm, PAGEMAP_SCAN, &arg) < 0) {
        err = errno;
        close(pm);
        close(fd);
        snprintf(why, len, "no PAGEMAP_SCAN ioctl (Linux >= 6.7): %s", errno_name(err));
        return -1;
    }
    k->uffd = fd;
    k->pagemap = pm;
    return 0;
}

uint64_t wt_measure_fault_ns(const wt_kernel *k)
{
    enum { PAGES = 64 };
    char *m = mmap(NULL, PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return 0;
    uint64_t ns = 0;
    memset(m, 1, PAGES * PAGE);
    struct uffdio_register reg = {.range = {(uintptr_t)m, PAGES * PAGE}, .mode = UFFDIO_REGISTER_MODE_WP};
    struct uffdio_writeprotect wp = {.range = {(uintptr_t)m, PAGES * PAGE},
                                     .mode = UFFDIO_WRITEPROTECT_MODE_WP};
    if (ioctl(k->uffd, UFFDIO_REGISTER, &reg) == 0) {
        if (ioctl(k->uffd, UFFDIO_WRITEPROTECT, &wp) == 0) {
            uint64_t t0 = pypper_clock_ns(CLOCK_THREAD_CPUTIME_ID);
            for (int i = 0; i < PAGES; i++)
                ((volatile char *)m)[i * PAGE] = 2;
            ns = (pypper_clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0) / PAGES;
        }
        struct uffdio_range r = {(uintptr_t)m, PAGES * PAGE};
        ioctl(k->uffd, UFFDIO_UNREGISTER, &r);
    }
    munmap(m, PAGES * PAGE);
    return ns;
}

void wt_kernel_close(wt_kernel *k)
{
    if (k->uffd >= 0)
        close(k->uffd);
    if (k->pagemap >= 0)
        close(k->pagemap);
    k->uffd = k->pagemap = -1;
}

/* ---- areas ---- */

void wt_params_default(wt_params *p)
{
    *p = (wt_params){.interval_ns = 1000000000u, .budget = 0.01, .fault_ns = 2000, .park = true};
}

void wt_tracker_init(wt_tracker *t, const wt_kernel *k, const wt_params *p)
{
    memset(t, 0, sizeof(*t));
    t->k = *k;
    t->p = *p;
    t->c.next_interval_ns = p->interval_ns;
}

/* Zeroed memory that costs nothing until written. */
static void *reserve(size_t bytes)
{
    void *m = pypper_own_mmap(PYPPER_OWN_WRITE_TRACKING, bytes ? bytes : 1, MAP_NORESERVE);
    return m == MAP_FAILED ? NULL : m;
}

static void area_free(wt_area *a)
{
    if (a->history)
        pypper_own_munmap(a->history, a->max_pages);
    size_t bits = WORDS(a->max_pages) * 8;
    if (a->parked)
        pypper_own_munmap(a->parked, bits);
    if (a->probation)
        pypper_own_munmap(a->probation, bits);
    if (a->written)
        pypper_own_munmap(a->written, bits);
    memset(a, 0, sizeof(*a));
}

int wt_add_area(wt_tracker *t, void *base, size_t max_len)
{
    if (t->nareas == WT_MAX_AREAS || ((uintptr_t)base & (PAGE - 1)))
        return -1;
    wt_area *a = &t->areas[t->nareas];
    a->base = base;
    a->max_pages = max_len >> PAGE_BITS;
    size_t bits = WORDS(a->max_pages) * 8;
    a->history = reserve(a->max_pages);
    a->parked = reserve(bits);
    a->probation = reserve(bits);
    a->written = reserve(bits);
    if (!a->history || !a->parked || !a->probation || !a->written) {
        area_free(a);
        return -1;
    }
    return t->nareas++;
}

int wt_grow(wt_tracker *t, int area, size_t len)
{
    wt_area *a = &t->areas[area];
    size_t pages = len >> PAGE_BITS;
    if (pages > a->max_pages)
        pages = a->max_pages;
    if (pages <= a->registered)
        return 0;
    struct uffdio_register reg = {
        .range = {(uintptr_t)a->base + ((uint64_t)a->registered << PAGE_BITS),
                  (uint64_t)(pages - a->registered) << PAGE_BITS},
        .mode = UFFDIO_REGISTER_MODE_WP};
    if (ioctl(t->k.uffd, UFFDIO_REGISTER, &reg) != 0) {
        t->c.last_errno = errno;
        return -errno;
    }
    t->c.registered_pages += pages - a->registered;
    a->registered = pages;
    return 0;
}

/* ---- bitmaps ---- */

static inline bool bit_get(const uint64_t *m, size_t i) { return (m[i >> 6] >> (i & 63)) & 1u; }
static inline void bit_set(uint64_t *m, size_t i) { m[i >> 6] |= (uint64_t)1 << (i & 63); }

static void bits_set_range(uint64_t *m, size_t from, size_t to)
{
    for (size_t i = from; i < to;) {
        if ((i & 63) == 0 && to - i >= 64) {
            m[i >> 6] = ~(uint64_t)0;
            i += 64;
        } else {
            bit_set(m, i++);
        }
    }
}

static void bits_clear_range(uint64_t *m, size_t from, size_t to)
{
    for (size_t i = from; i < to;) {
        if ((i & 63) == 0 && to - i >= 64) {
            m[i >> 6] = 0;
            i += 64;
        } else {
            m[i >> 6] &= ~((uint64_t)1 << (i & 63));
            i++;
        }
    }
}

/* ---- the scan ---- */

static void forget_discards(wt_tracker *t, unsigned head)
{
    bool overflow = __atomic_exchange_n(&t->ring_overflow, false, __ATOMIC_ACQ_REL);
    for (int ai = 0; ai < t->nareas; ai++) {
        wt_area *a = &t->areas[ai];
        uintptr_t lo = (uintptr_t)a->base, hi = lo + ((uintptr_t)a->registered << PAGE_BITS);
        if (overflow) {      /* too many to tell apart: every page starts over */
            memset(a->history, 0, a->registered);
            continue;
        }
        for (unsigned r = t->ring_tail; r != head; r++) {
            uintptr_t s = t->ring[r % WT_DISCARD_RING].start, e = t->ring[r % WT_DISCARD_RING].end;
            if (e <= lo || s >= hi)
                continue;
            size_t first = ((s < lo ? lo : s) - lo) >> PAGE_BITS;
            size_t last = ((e > hi ? hi : e) - lo + PAGE - 1) >> PAGE_BITS;
            for (size_t i = first; i < last; i++)
                __atomic_store_n(&a->history[i], 0, __ATOMIC_RELAXED);
            /* Unpopulated now: a parked page is no longer written. */
            if (t->p.park) {
                for (size_t i = first; i < last; i++)
                    if (bit_get(a->parked, i))
                        t->c.parked_now--;
                bits_clear_range(a->parked, first, last);
            }
        }
    }
    __atomic_store_n(&t->ring_tail, head, __ATOMIC_RELEASE);
}

void wt_note_discard(wt_tracker *t, const void *addr, size_t len)
{
    unsigned head = __atomic_load_n(&t->ring_head, __ATOMIC_RELAXED);
    unsigned tail = __atomic_load_n(&t->ring_tail, __ATOMIC_ACQUIRE);
    t->c.discards++;
    if (head - tail >= WT_DISCARD_RING) {
        __atomic_store_n(&t->ring_overflow, true, __ATOMIC_RELEASE);
        t->c.discard_overflows++;
        return;
    }
    t->ring[head % WT_DISCARD_RING].start = (uintptr_t)addr;
    t->ring[head % WT_DISCARD_RING].end = (uintptr_t)addr + len;
    __atomic_store_n(&t->ring_head, head + 1, __ATOMIC_RELEASE);
}

/* Walk [from, to) pages of area a with PAGEMAP_SCAN, re-arming what is written;
 * marks the written pages. 0 or -errno. */
static int scan_run(wt_tracker *t, wt_area *a, size_t from, size_t to)
{
    struct page_region *vec = (struct page_region *)t->vec;
    _Static_assert(sizeof(t->vec) == WT_VEC_LEN * sizeof(struct page_region), "vec layout");
    struct pm_scan_arg arg = {
        .size = sizeof(arg),
        .flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
        .start = (uintptr_t)a->base + ((uint64_t)from << PAGE_BITS),
        .end = (uintptr_t)a->base + ((uint64_t)to << PAGE_BITS),
        .vec = (uintptr_t)vec,
        .vec_len = WT_VEC_LEN,
        .category_mask = PAGE_IS_WRITTEN,
        .return_mask = PAGE_IS_WRITTEN | PAGE_IS_PFNZERO | PAGE_IS_SWAPPED | PAGE_IS_HUGE,
    };
    for (;;) {
        long n = ioctl(t->k.pagemap, PAGEMAP_SCAN, &arg);
        t->c.ioctls++;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        for (long i = 0; i < n; i++) {
            size_t p0 = (vec[i].start - (uintptr_t)a->base) >> PAGE_BITS;
            size_t p1 = (vec[i].end - (uintptr_t)a->base) >> PAGE_BITS;
            uint64_t cat = vec[i].categories;
            if (cat & PAGE_IS_PFNZERO) {      /* a read mapped the zero page */
                t->c.zero_pages += p1 - p0;
                continue;
            }
            if (cat & PAGE_IS_SWAPPED)
                t->c.swapped_pages += p1 - p0;
            if (cat & PAGE_IS_HUGE)
                t->c.huge_pages += p1 - p0;
            bits_set_range(a->written, p0, p1);
        }
        if (arg.walk_end >= arg.end)
            return 0;
        arg.start = arg.walk_end;
    }
}

/* Which parked pages are re-armed this scan: the 64-page chunks of one group in
 * WT_PARK_GROUPS, rotating; they are not told apart this scan (probation). */
static void unpark_group(wt_tracker *t, wt_area *a, size_t limit)
{
    unsigned group = (unsigned)(t->scan_no % WT_PARK_GROUPS);
    for (size_t w = group; w < WORDS(limit); w += WT_PARK_GROUPS) {
        if (!a->parked[w])
            continue;
        uint64_t bits = a->parked[w];
        a->probation[w] |= bits;
        a->parked[w] = 0;
        unsigned n = (unsigned)__builtin_popcountll(bits);
        t->c.parked_now -= n;
        t->c.unparks += n;
    }
}

/* Scan the unparked runs of a's armed prefix, then its newly registered pages. */
static int scan_area(wt_tracker *t, wt_area *a)
{
    size_t limit = a->armed;
    if (t->p.park)
        unpark_group(t, a, limit);
    size_t i = 0;
    while (i < limit) {
        /* Skip parked pages a word at a time. */
        if ((i & 63) == 0 && a->parked[i >> 6] == ~(uint64_t)0) {
            i += 64;
            continue;
        }
        if (bit_get(a->parked, i)) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < limit) {
            if ((j & 63) == 0 && !a->parked[j >> 6] && limit - j >= 64) {
                j += 64;
                continue;
            }
            if (bit_get(a->parked, j))
                break;
            j++;
        }
        int rc = scan_run(t, a, i, j);
        if (rc < 0)
            return rc;
        i = j;
    }
    if (a->registered > a->armed) {
        int rc = scan_run(t, a, a->armed, a->registered);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Fold the scan into the histories; park pages written in the last WT_PARK_AFTER
 * scans that were armed before this one. Returns the pages seen written. */
static long fold_area(wt_tracker *t, wt_area *a)
{
    long seen = 0;
    size_t limit = a->armed;
    for (size_t w = 0; w < WORDS(limit); w++) {
        uint64_t wr = a->written[w], pk = a->parked[w], pr = a->probation[w];
        size_t first = w * 64, last = first + 64 < limit ? first + 64 : limit;
        if (!wr && !pk && !pr) {
            /* Nothing written: every history shifts in a 0 (skip the all-zero ones). */
            uint64_t any = 0;
            for (size_t i = first; i + 8 <= last; i += 8) {
                uint64_t v;
                memcpy(&v, a->history + i, 8);
                any |= v;
            }
            for (size_t i = first + ((last - first) & ~(size_t)7); i < last; i++)
                any |= a->history[i];
            if (!any)
                continue;
        }
        for (size_t i = first; i < last; i++) {
            unsigned b = (unsigned)(i - first);
            bool written = (wr >> b) & 1u, parked = (pk >> b) & 1u, fresh = (pr >> b) & 1u;
            uint8_t h = a->history[i];
            /* A parked or just unparked page was not armed: assume it was written. */
            uint8_t nh = (uint8_t)((h << 1) | (written || parked || fresh));
            __atomic_store_n(&a->history[i], nh, __ATOMIC_RELAXED);
            if (written) {
                seen++;
                if (!fresh)
                    t->c.faulted_pages++;
            }
            uint8_t run = (uint8_t)((1u << WT_PARK_AFTER) - 1);
            if (t->p.park && written && !fresh && !parked && (nh & run) == run) {
                a->parked[w] |= (uint64_t)1 << b;
                t->c.parked_now++;
                t->c.parks++;
            }
        }
        a->written[w] = 0;
        a->probation[w] = 0;
    }
    /* Newly armed pages: what they held before says nothing; their next scan does. */
    for (size_t w = limit / 64; w < WORDS(a->registered); w++)
        a->written[w] = 0;
    __atomic_store_n(&a->known, limit, __ATOMIC_RELAXED);
    __atomic_store_n(&a->armed, a->registered, __ATOMIC_RELAXED);
    return seen;
}

long wt_scan(wt_tracker *t)
{
    uint64_t t0 = pypper_clock_ns(CLOCK_THREAD_CPUTIME_ID);
    /* Discards noted before the scan are applied after it: a page written and then
     * given back in this interval gets no heat. */
    unsigned discards_until = __atomic_load_n(&t->ring_head, __ATOMIC_ACQUIRE);
    long seen = 0;
    for (int ai = 0; ai < t->nareas; ai++) {
        wt_area *a = &t->areas[ai];
        int rc = scan_area(t, a);
        if (rc < 0) {
            t->c.scan_errors++;
            t->c.last_errno = -rc;
            /* Drop what this scan marked; the histories stay as they were. */
            memset(a->written, 0, WORDS(a->registered) * 8);
            return rc;
        }
        seen += fold_area(t, a);
    }
    forget_discards(t, discards_until);
    t->scan_no++;
    t->c.scans++;
    t->c.written_pages += (uint64_t)seen;
    t->c.last_written = (uint64_t)seen;
    t->c.last_scan_ns = pypper_clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
    t->c.scan_ns += t->c.last_scan_ns;
    t->c.next_interval_ns = wt_next_interval_ns(t);
    return seen;
}

/* Each interval costs the program about fault_ns per armed page it writes, and a
 * scan's CPU time (a core the program may need; its re-arming also flushes TLBs):
 * the interval is the shortest that keeps that within the budget, between a tenth
 * of the usual interval and four times it. Pages parked are not paid for. */
uint64_t wt_next_interval_ns(const wt_tracker *t)
{
    uint64_t base = t->p.interval_ns, lo = base / 10, hi = base * 4;
    uint64_t paid = t->c.last_written > t->c.parked_now ? t->c.last_written - t->c.parked_now : 0;
    double cost = (double)paid * (double)t->p.fault_ns + (double)t->c.last_scan_ns;
    double want = t->p.budget > 0 ? cost / t->p.budget : (double)hi;
    uint64_t ns = want >= (double)hi ? hi : (uint64_t)want;
    return ns < lo ? lo : ns;
}

/* The history byte of addr's page, -1 where none is kept: among the pages armed
 * (`known` false) or the pages scanned at least once (`known` true). */
static int history_of(const wt_tracker *t, const void *addr, bool known)
{
    uintptr_t p = (uintptr_t)addr;
    for (int ai = 0; ai < t->nareas; ai++) {
        const wt_area *a = &t->areas[ai];
        uintptr_t lo = (uintptr_t)a->base;
        if (p < lo)
            continue;
        size_t i = (p - lo) >> PAGE_BITS;
        if (i < __atomic_load_n(known ? &a->known : &a->armed, __ATOMIC_RELAXED))
            return __atomic_load_n(&a->history[i], __ATOMIC_RELAXED);
    }
    return -1;
}

int wt_history(const wt_tracker *t, const void *addr) { return history_of(t, addr, false); }

int wt_written_last(const wt_tracker *t, const void *addr)
{
    int h = history_of(t, addr, true);
    return h < 0 ? h : h & 1;
}

void wt_tracker_disarm(wt_tracker *t)
{
    for (int ai = 0; ai < t->nareas; ai++) {
        wt_area *a = &t->areas[ai];
        if (a->registered && t->k.uffd >= 0) {
            struct uffdio_range r = {(uintptr_t)a->base, (uint64_t)a->registered << PAGE_BITS};
            if (ioctl(t->k.uffd, UFFDIO_UNREGISTER, &r) != 0)
                t->c.last_errno = errno;
        }
    }
    wt_kernel_close(&t->k);
}

void wt_tracker_fini(wt_tracker *t)
{
    wt_tracker_disarm(t);
    for (int ai = 0; ai < t->nareas; ai++)
        area_free(&t->areas[ai]);
    t->nareas = 0;
}

void wt_tracker_forget(wt_tracker *t)
{
    for (int ai = 0; ai < t->nareas; ai++)
        area_free(&t->areas[ai]);
    t->nareas = 0;
    wt_kernel_close(&t->k);
}
