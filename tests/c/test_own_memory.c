/* tests/c/test_own_memory.c: Pypper's own mappings: counted by part (mapped and
 * resident bytes; unmapped regions forgotten), and what a forked child gets: the parts
 * a child forgets unread come empty (zero pages, also after an mremap that moved
 * them), the others as the parent left them. */
#include "check.h"
#include "../../Pypper/own_memory.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BYTES (64 * 1024)

/* In a child: the exit status says whether every byte of p is `want`. */
static int all_bytes(const unsigned char *p, size_t n, unsigned char want)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != want)
            return 0;
    return 1;
}

/* Fork; the child reports whether [p, p+n) reads `want` throughout. */
static int child_sees(const void *p, size_t n, unsigned char want)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(all_bytes(p, n, want) ? 0 : 1);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(void)
{
    unsigned char *wiped = pypper_own_mmap(PYPPER_OWN_EVIDENCE, BYTES, 0);
    unsigned char *kept = pypper_own_mmap(PYPPER_OWN_ALLOC_SITES, BYTES, 0);
    CHECK(wiped && kept);
    if (!wiped || !kept)
        return check_report("own_memory");
    memset(wiped, 0xab, BYTES);
    memset(kept, 0xcd, BYTES);
    CHECK(pypper_own_mapped(PYPPER_OWN_EVIDENCE) == BYTES);
    CHECK(pypper_own_resident(PYPPER_OWN_EVIDENCE) == BYTES);
    CHECK(pypper_own_resident(PYPPER_OWN_ALLOC_SITES) == BYTES);

    /* The child's copies: the evidence empty, the allocation sites as they were. */
    CHECK(child_sees(wiped, BYTES, 0));
    CHECK(child_sees(kept, BYTES, 0xcd));
    /* The parent's own are untouched. */
    CHECK(all_bytes(wiped, BYTES, 0xab) && all_bytes(kept, BYTES, 0xcd));

    /* Grown by mremap (moved or not): still empty in a child, whole in the parent. */
    unsigned char *grown = pypper_own_mremap(wiped, BYTES, 64 * BYTES);
    CHECK(grown != NULL);
    if (grown) {
        wiped = grown;
        memset(wiped + BYTES, 0xab, BYTES);
        CHECK(child_sees(wiped, 2 * BYTES, 0));
        CHECK(all_bytes(wiped, 2 * BYTES, 0xab));
        CHECK(pypper_own_mapped(PYPPER_OWN_EVIDENCE) == 64 * BYTES);
        CHECK(pypper_own_resident(PYPPER_OWN_EVIDENCE) == 2 * BYTES);
    }

    pypper_own_munmap(wiped, grown ? 64 * BYTES : BYTES);
    pypper_own_munmap(kept, BYTES);
    CHECK(pypper_own_mapped(PYPPER_OWN_EVIDENCE) == 0 && pypper_own_resident_total() == 0);
    return check_report("own_memory");
}
