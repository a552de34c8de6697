# Copyright (c) mmsepvit contributors. Licensed under the Apache License 2.0.
"""glibc's allocator set to keep freed memory, for CPU training.

A CPU training step allocates and frees the same large activation buffers
every iteration. glibc serves requests above its mmap threshold (128 KiB,
rising to at most 32 MiB) with fresh ``mmap`` calls and returns them on
``free``, and trims the heap's top above 128 KiB: each step then faults
every page of its activations in again, zeroed by the kernel. Keeping freed
memory (no ``mmap`` for large blocks, no trimming) turns those page faults
into reuse, at the cost of a resident size that stays at the run's peak.

Only the tools call :func:`keep_freed_memory` (``tools/train.py`` on the CPU,
and the benchmark when asked); importing mmsepvit changes nothing.
"""
import ctypes
import ctypes.util
import os
import resource
from typing import Dict

# mallopt parameters of glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
# mallopt takes an int: the largest trim threshold it can express.
_NEVER_TRIM = 2**31 - 1
# Set by the user, these mean they chose their allocator settings.
USER_ALLOCATOR_ENV = ('LD_PRELOAD', 'MALLOC_CONF', 'MALLOC_ARENA_MAX',
                      'MALLOC_MMAP_MAX_', 'MALLOC_MMAP_THRESHOLD_',
                      'MALLOC_TOP_PAD_', 'MALLOC_TRIM_THRESHOLD_',
                      'GLIBC_TUNABLES')


def user_allocator_settings(env: Dict[str, str] = os.environ) -> list:
    """The allocator variables the user set (their choice wins)."""
    return [name for name in USER_ALLOCATOR_ENV if env.get(name)]


def keep_freed_memory() -> str:
    """Make glibc keep freed memory in this process and the processes it
    forks (data-loader workers), unless the user set allocator variables.

    Returns:
        str: What was done, for the log.
    """
    chosen = user_allocator_settings()
    if chosen:
        return f'allocator: left as set by {", ".join(chosen)}'
    name = ctypes.util.find_library('c')
    libc = ctypes.CDLL(name) if name else None
    mallopt = getattr(libc, 'mallopt', None)
    if mallopt is None or ctypes.util.find_library('c') is None:
        return 'allocator: not glibc, left as it is'
    if not (mallopt(_M_MMAP_MAX, 0)
            and mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM)):
        return 'allocator: glibc refused the settings, left as it is'
    return ('allocator: glibc keeps freed memory (no mmap for large blocks, '
            'no trimming); set MALLOC_* or LD_PRELOAD to choose your own')


def minor_page_faults() -> int:
    """This process's minor page faults so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
