/* Pypper/pagemap_scan.h: the kernel ABI of PAGEMAP_SCAN (Linux >= 6.7) and of the
 * userfaultfd features that asynchronous write-protection needs, for C libraries
 * whose headers predate them (Debian 12's linux-libc-dev). Values from the kernel's
 * uapi headers (include/uapi/linux/fs.h, userfaultfd.h); guarded so newer headers win. */
#ifndef PYPPER_PAGEMAP_SCAN_H
#define PYPPER_PAGEMAP_SCAN_H

#include <linux/userfaultfd.h>
#include <stdint.h>
#include <sys/ioctl.h>

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
/* ioctl on /dev/userfaultfd: a userfaultfd whose rights come from the device node. */
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif

#ifndef PAGEMAP_SCAN
/* Page categories. */
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE (1 << 6)
#define PAGE_IS_SOFT_DIRTY (1 << 7)

/* One run of pages with the same categories (masked by return_mask). */
struct page_region {
    uint64_t start;
    uint64_t end;
    uint64_t categories;
};

/* Flags. */
#define PM_SCAN_WP_MATCHING (1 << 0)      /* write-protect the pages that match */
#define PM_SCAN_CHECK_WPASYNC (1 << 1)    /* fail unless the range is WP_ASYNC-registered */

struct pm_scan_arg {
    uint64_t size;                 /* sizeof(struct pm_scan_arg) */
    uint64_t flags;
    uint64_t start, end;           /* the range to walk */
    uint64_t walk_end;             /* out: where the walk stopped */
    uint64_t vec;                  /* struct page_region * */
    uint64_t vec_len;
    uint64_t max_pages;            /* 0: no limit */
    uint64_t category_inverted;
    uint64_t category_mask;        /* all of these (after inversion) */
    uint64_t category_anyof_mask;  /* at least one of these */
    uint64_t return_mask;          /* categories reported */
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif

#endif
