"""records.py's loop in a pool of 6 threads while the main thread waits for them."""
from concurrent.futures import ThreadPoolExecutor

from records import work

with ThreadPoolExecutor(max_workers=6) as pool:
    print(sum(pool.map(work, range(24))))
