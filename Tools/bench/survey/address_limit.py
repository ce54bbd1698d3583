"""A 2,500 MiB zero-filled buffer under a 6,000,000 KB address-space limit (RLIMIT_AS,
set by the harness): stock serves it."""
# survey: rlimit_as=6144000000
b = bytes(2500 << 20)
print(len(b) >> 20)
