"""Print where VoiceOps answers and how to log in, once the web server and worker have started.

``make run`` starts Celery (whose banner and warnings fill a screen) and the web server together;
this waits for the server to answer, lets the worker finish its start-up output, then prints the
URL and the login again so they are the last thing on the screen.
"""

import sys
import time
import urllib.error
import urllib.request

WAIT_FOR_SERVER = 90  # seconds
WORKER_SETTLE = 4  # seconds for the worker's banner and warnings after the server answers


def main(port: str, login: str) -> int:
    url = f"http://127.0.0.1:{port}/admin/"
    deadline = time.monotonic() + WAIT_FOR_SERVER
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "login/", timeout=2)
            break
        except urllib.error.HTTPError:
            break  # it answers
        except OSError:
            time.sleep(0.5)
    else:
        print(f"VoiceOps did not answer at {url} within {WAIT_FOR_SERVER} s: see the messages above.", flush=True)
        return 1
    time.sleep(WORKER_SETTLE)
    bar = "=" * 72
    print(f"\n{bar}\n  VoiceOps: {url}\n  {login.strip()}\n  (stop with Ctrl-C)\n{bar}\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""))
