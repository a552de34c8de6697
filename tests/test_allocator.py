"""glibc set to keep freed memory for CPU training (tools/train.py)."""
import os

import pytest
from launch import launch_python

# Allocates and frees 64 MiB ten times, then prints its page faults: a block
# glibc maps afresh each time faults in all its 16384 pages again.
CHURN = '''
import sys
from mmsepvit.utils.allocator import keep_freed_memory, minor_page_faults
if sys.argv[1] == 'keep':
    print(keep_freed_memory())
import torch
for _ in range(2):  # the heap grows to fit, then reaches its place
    torch.ones(2**24)
before = minor_page_faults()
for _ in range(10):
    torch.ones(2**24)
print('faults', minor_page_faults() - before)
'''


def churn(mode: str, **env) -> tuple:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith('MALLOC_') and k not in ('LD_PRELOAD',
                                                     'GLIBC_TUNABLES')
    }
    log = launch_python('-c', CHURN, mode, env={**clean, **env}).stdout
    message, faults = log.splitlines()[0], int(log.split()[-1])
    return message, faults


@pytest.mark.slow
def test_freed_memory_is_reused_instead_of_faulted_in_again():
    _, default = churn('default')
    message, keep = churn('keep')
    assert 'glibc keeps freed memory' in message
    assert default > 10 * 16000  # every block faulted in again
    # At most one block faulted in again: under load the host's reclaim
    # (this VM runs DAMON) may take back the kept pages once.
    assert keep < 2 * 16384


@pytest.mark.slow
def test_the_users_allocator_settings_win():
    message, faults = churn('keep', MALLOC_TRIM_THRESHOLD_='131072')
    assert message == 'allocator: left as set by MALLOC_TRIM_THRESHOLD_'
    assert faults > 10 * 16000


@pytest.mark.parametrize('env,expected', [
    ({}, []),
    ({
        'LD_PRELOAD': '/usr/lib/libjemalloc.so'
    }, ['LD_PRELOAD']),
    ({
        'MALLOC_ARENA_MAX': '2',
        'PATH': '/bin'
    }, ['MALLOC_ARENA_MAX']),
])
def test_user_allocator_settings(env, expected):
    from mmsepvit.utils.allocator import user_allocator_settings
    assert user_allocator_settings(env) == expected
