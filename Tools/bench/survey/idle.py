"""A program that builds a dict and then sleeps 2 s: what do Pypper's threads cost
while it waits (CPU time and context switches)?"""
import time

d = {i: str(i) for i in range(200_000)}
time.sleep(2.0)
print(len(d))
