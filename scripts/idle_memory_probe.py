#!/usr/bin/env python3
# Usage: pip install websockets; ulimit -n 20000;
#   switchboard serve --listen 127.0.0.1:18080 &
#   python3 scripts/idle_memory_probe.py ws://127.0.0.1:18080/ws/customer $(pgrep -f "serve --listen 127.0.0.1:18080") 10000
# Stands in until the load tester (loadtest/, idle-capacity scenario) measures this.
# Opens N idle customer sessions (hello'd) against a running switchboard and
# reports the server's RSS growth per connection. Loopback only.
import asyncio, json, sys, time
import websockets

def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

def sock_mem_pages():
    for line in open("/proc/net/sockstat"):
        if line.startswith("TCP:"):
            parts = line.split()
            return int(parts[parts.index("mem") + 1])

async def one(url, i, conns):
    ws = await websockets.connect(url, max_size=2**16, compression=None, ping_interval=None)
    await ws.send(json.dumps({"type": "hello", "visitor_id": f"idle-{i}"}))
    await ws.recv()
    conns.append(ws)

async def main(url, pid, n):
    before = rss_kb(pid); sock_before = sock_mem_pages()
    conns = []
    for start in range(0, n, 500):
        await asyncio.gather(*(one(url, i, conns) for i in range(start, min(n, start + 500))))
    await asyncio.sleep(2)
    after = rss_kb(pid); sock_after = sock_mem_pages()
    print(json.dumps({"connections": len(conns), "rss_before_kb": before, "rss_after_kb": after,
        "rss_per_conn_bytes": round((after - before) * 1024 / len(conns)),
        "kernel_tcp_mem_pages_delta": sock_after - sock_before}))
    for ws in conns:
        await ws.close()

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
