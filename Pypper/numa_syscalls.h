/* Pypper/numa_syscalls.h: the two NUMA system calls Pypper makes, mbind(2) and
 * move_pages(2), issued directly. libnuma's numaif wrappers are the same one-line
 * syscalls, but linking libnuma maps the library and runs its constructor in every
 * interpreter start (about 60 KiB of resident memory here) for nothing else. The
 * MPOL_* constants come from the kernel's uapi header. */
#ifndef PYPPER_NUMA_SYSCALLS_H
#define PYPPER_NUMA_SYSCALLS_H

#include <linux/mempolicy.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MPOL_PREFERRED_MANY
#define MPOL_PREFERRED_MANY 5
#endif

/* 0 or -1 with errno, like mbind(2). */
static inline long pypper_mbind(void *addr, unsigned long len, int mode,
                                const unsigned long *nodemask, unsigned long maxnode,
                                unsigned flags)
{
    return syscall(SYS_mbind, addr, len, mode, nodemask, maxnode, flags);
}

/* 0 (or the number of pages not moved) or -1 with errno, like move_pages(2). */
static inline long pypper_move_pages(int pid, unsigned long count, void **pages,
                                     const int *nodes, int *status, int flags)
{
    return syscall(SYS_move_pages, pid, count, pages, nodes, status, flags);
}

#endif
