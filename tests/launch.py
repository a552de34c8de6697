"""The one way the tests launch a command: tools, shell scripts, ``python
-c``, with output captured and a failure shown with its log's tail."""
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional, Union

ROOT = Path(__file__).resolve().parents[1]


class Launched(subprocess.CompletedProcess):
    """A finished command; ``log`` is its stdout and stderr together."""

    @property
    def log(self) -> str:
        return self.stdout + self.stderr


def launch(*args: Union[str, Path],
           cwd: Union[str, Path] = ROOT,
           env: Optional[dict] = None,
           check: bool = True) -> Launched:
    """Run ``args`` in ``cwd`` and wait for it.

    The command runs in a session of its own, which is ended once the
    command is gone, as a job scheduler would: a trainer that dies (or is
    killed) can leave data-loading workers behind, blocked writing batches
    nobody reads. Output goes through files, which such orphans cannot hold
    open the way they would a pipe.

    Args:
        check: Fail the test, showing the end of the log, unless the command
            exits with 0. False returns a failure for the test to inspect.
    """
    command = [str(a) for a in args]
    with tempfile.TemporaryFile('w+') as out, \
            tempfile.TemporaryFile('w+') as err:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=err,
            text=True,
            start_new_session=True)
        returncode = process.wait()
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:  # nothing left
            pass
        out.seek(0)
        err.seek(0)
        result = Launched(command, returncode, out.read(), err.read())
    assert not check or returncode == 0, (
        f'{" ".join(command)} exited with {returncode}:\n{result.log[-4000:]}')
    return result


def launch_python(*args: Union[str, Path], **kwargs) -> Launched:
    """:func:`launch` with this interpreter: ``launch_python(tool, ...)`` or
    ``launch_python('-c', code)``."""
    return launch(sys.executable, *args, **kwargs)
