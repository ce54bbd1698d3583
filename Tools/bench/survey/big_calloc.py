"""Zero-filled buffers of 1 GiB and 200 MiB made and dropped three times (calloc):
stock's pages come fresh from the kernel and stay unread."""
for _ in range(3):
    b = bytes(1 << 30)
    del b
    b = bytes(200 << 20)
    del b
print("ok")
