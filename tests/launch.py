"""The one way the tests launch a command: tools, shell scripts, ``python
-c``, with output captured and a failure shown with its log's tail."""
import subprocess
import sys
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

    Args:
        check: Fail the test, showing the end of the log, unless the command
            exits with 0. False returns a failure for the test to inspect.
    """
    done = subprocess.run([str(a) for a in args],
                          cwd=cwd,
                          env=env,
                          capture_output=True,
                          text=True)
    result = Launched(done.args, done.returncode, done.stdout, done.stderr)
    assert not check or result.returncode == 0, (
        f'{" ".join(result.args)} exited with {result.returncode}:\n'
        f'{result.log[-4000:]}')
    return result


def launch_python(*args: Union[str, Path], **kwargs) -> Launched:
    """:func:`launch` with this interpreter: ``launch_python(tool, ...)`` or
    ``launch_python('-c', code)``."""
    return launch(sys.executable, *args, **kwargs)
