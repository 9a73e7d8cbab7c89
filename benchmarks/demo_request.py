"""A demo click over HTTP, from the request to the picture's bytes.

    python benchmarks/demo_request.py [--repeats 5] [--device cpu]

Starts `comet demo` as its own process on 127.0.0.1 (the bundled zoo, an empty
COMET_HOME), then calls its compose endpoint with the page's preselected concepts
(clevr:obj2 and clevr-lighting:light0, card exemplars, default steps) the way the page
does: POST /gradio_api/call/compose, read the event stream until the result, then GET
the picture. One JSON line per case:
- `demo_first_click`: the first request after start-up (the models are copied into the
  cache and loaded);
- `demo_click`: the median of `--repeats` further requests, seeds 1..R.
The machine's load is recorded with each line.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

STARTER = ["clevr:obj2", "clevr-lighting:light0"]
ROWS = 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def emit(**fields) -> None:
    fields["load_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(fields), flush=True)


def click(client: httpx.Client, seed: int) -> float:
    """Seconds from the compose request to the downloaded picture."""
    rows = []
    for i in range(ROWS):
        rows += [STARTER[i] if i < len(STARTER) else None, 1.0, None]
    t0 = time.perf_counter()
    started = client.post("/gradio_api/call/compose", json={"data": [*rows, "", seed, "gd", 0]})
    started.raise_for_status()
    stream = client.get(f"/gradio_api/call/compose/{started.json()['event_id']}").text
    lines = stream.splitlines()
    event = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("event:"))
    data = json.loads(next(line.split(":", 1)[1] for line in lines if line.startswith("data:")))
    if event != "complete":
        raise SystemExit(f"the demo answered {event}: {data}")
    picture = client.get(data[0]["url"])
    picture.raise_for_status()
    assert picture.content[:8] == b"\x89PNG\r\n\x1a\n"
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "COMET_HOME": home, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
        env.pop("COMET_HUB", None)
        server = subprocess.Popen([sys.executable, "-m", "comet_zoo.cli.main", "demo", "--port", str(port),
                                   "--device", args.device], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
                deadline = time.monotonic() + 300
                while True:
                    try:
                        if client.get("/gradio_api/info").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("comet demo did not start")
                    time.sleep(0.2)
                emit(case="demo_first_click", device=args.device, concepts=STARTER, s=round(click(client, 0), 3))
                runs = [click(client, seed) for seed in range(1, args.repeats + 1)]
                emit(case="demo_click", device=args.device, concepts=STARTER, median_s=round(statistics.median(runs), 3),
                     runs=[round(t, 3) for t in runs])
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
