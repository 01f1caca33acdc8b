"""The SDK's native output goes to the log through a pipe: a log that cannot be written (a full disk)
never turns into a failed write for the writer. (The SDK's Rust core ends a task whose print fails:
under a real full disk the stream then stayed "reconnecting" to the end of the run.)"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

PROGRAM = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from zerostream_desktop.core.native_output import native_output_to

    with native_output_to(Path(sys.argv[1])) as terminal:
        for _ in range(500):
            os.write(1, b"a native log line that the log file may not take\\n" * 20)  # raises if it fails
            os.write(2, b"and one to standard error\\n")
        print("live view line", file=terminal, flush=True)
    print("after: standard output is the terminal again")
    """
)


def run(log: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", PROGRAM, str(log)], capture_output=True, text=True, timeout=60)


def test_writers_never_fail_when_the_log_cannot_be_written():
    done = run(Path("/dev/full"))  # every write: ENOSPC, as on a full disk
    assert done.returncode == 0, done.stderr
    assert "live view line" in done.stderr and "after: standard output is the terminal again" in done.stdout
    assert "native log line" not in done.stdout + done.stderr


def test_the_log_gets_everything_when_it_can(tmp_path):
    log = tmp_path / "stream.log"
    done = run(log)
    assert done.returncode == 0, done.stderr
    text = log.read_text()
    assert text.count("a native log line") == 500 * 20 and text.count("and one to standard error") == 500
    assert "live view line" not in text and "after" not in text
    assert oct(log.stat().st_mode & 0o777) == "0o600"
