"""A forking worker pattern (socketserver.ForkingMixIn, a task per child): a parent
holding 300,000 rows (900,000 objects at scale 1) forks a child per task; each child
reads a slice of the shared data, reports a sum through a pipe and exits at once.
The cost per task is mostly fork's and the child's own start and exit: under the
drop-in with tracing, what the session's fork handlers do in the parent (its threads
stop and start again) and in the child (the session is dropped there)."""
import os

from _phases import count, phase


def main():
    table = [(i, str(i), [i, i + 1]) for i in range(count(300_000) + 100)]
    total = 0
    with phase("forks"):
        for t in range(count(150)):
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                status = 1
                try:
                    os.close(r)
                    lo = (t * 997) % (len(table) - 100)
                    s = sum(row[2][1] for row in table[lo:lo + 100])
                    os.write(w, str(s).encode())
                    status = 0
                finally:
                    os._exit(status)        # never the parent's loop
            os.close(w)
            with os.fdopen(r, "rb") as f:
                total += int(f.read())
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0
    print("checksum", total, len(table))


main()
