/* Tools/bench/peakrss.c: runs a command and prints its wall time, peak RSS and page
 * faults.
 * A child's ru_maxrss includes the memory of the process it was forked from (the
 * kernel carries the old mm's high-water mark across exec), so a benchmark runner
 * written in Python would add its own size; this small launcher adds ~1 MB at most,
 * the same for every interpreter measured. The faults are the child's own (wait4's
 * rusage: ru_minflt, ru_majflt), exec and interpreter start-up included. Output on
 * stderr, last line (Tools/bench/alloc_bench.py's run_measured parses it):
 *   peakrss: <wall seconds> <peak RSS KiB> <exit status> <minor faults> <major faults> */
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: peakrss COMMAND [ARGS...]\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) {
        perror("peakrss: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        perror("peakrss: exec");
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) {
        perror("peakrss: wait4");
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    fprintf(stderr, "peakrss: %.6f %ld %d %ld %ld %.6f %.6f\n", wall, ru.ru_maxrss, code,
            ru.ru_minflt, ru.ru_majflt,
            (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
            (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    return code;
}
