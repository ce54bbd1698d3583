"""10,000 asyncio tasks passing small messages through queues."""
import asyncio


async def worker(q_in, q_out):
    total = 0
    while True:
        item = await q_in.get()
        if item is None:
            break
        total += len(item["payload"])
        await q_out.put({"n": item["n"], "len": len(item["payload"])})
    return total


async def main():
    q_in, q_out = asyncio.Queue(), asyncio.Queue()
    workers = [asyncio.create_task(worker(q_in, q_out)) for _ in range(100)]

    async def producer(k):
        for n in range(30):
            await q_in.put({"n": n, "payload": "x" * (k % 50 + n)})
            await asyncio.sleep(0)

    await asyncio.gather(*(producer(k) for k in range(10000)))
    for _ in workers:
        await q_in.put(None)
    totals = await asyncio.gather(*workers)
    print(sum(totals), q_out.qsize())


asyncio.run(main())
