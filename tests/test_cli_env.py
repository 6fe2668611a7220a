"""`fastbook_ch7` never ends in a traceback because of where it runs: any locale, a closed pipe, a closed stdout, a full one.

Each case starts the installed console script as a user does (a shell where the case needs one), on `tiny_data`."""
import os, subprocess
from pathlib import Path
import pytest
from conftest import BIN, TINY, cli, cli_in_process
CLOSED = 'fastbook_ch7: error: stdout is closed: run it with stdout open, e.g. > log.txt'
FULL = 'fastbook_ch7: error: cannot write to stdout (No space left on device): send it to a file on a disk with space, e.g. > log.txt'

def run_args(data, out, stages='baseline'): return ['run', *TINY, '--data', data, '--stages', stages, '--out', out]

def sh(script, *args, **kwargs):
    "Run bash `script` with `$0` the console script and `$@` its `args`; the CompletedProcess"
    env = {**os.environ, 'PYTHONWARNINGS': 'ignore'}
    return subprocess.run(['bash', '-c', script, str(BIN/'fastbook_ch7'), *map(str, args)], env=env, timeout=600, text=True, **kwargs)

def no_traceback(res):
    for bad in ('Traceback', 'Exception ignored', 'Error:'): assert bad not in res.stderr, res.stderr[-3000:]

def test_ascii_stdout(tmp_path, tiny_data):
    "LC_ALL=C with an ascii stdout: the recipe's '—' and '×' (and the report's characters) print as '?'"
    res = cli(*run_args(tiny_data, tmp_path/'o'), env={'LC_ALL': 'C', 'PYTHONIOENCODING': 'ascii'})
    assert res.returncode == 0, res.stderr[-3000:]
    no_traceback(res)
    first = res.stdout.splitlines()[0]
    assert 'CPU recipe ? ' in first and '? wide)' in first, first
    assert '# fastbook_ch7 ladder' in res.stdout  # the report printed at the end
    assert (tmp_path/'o'/'records'/'baseline.json').exists()

def test_broken_pipe(tmp_path, tiny_data):
    "`| head -1`: quiet, exit code 141 (128 + SIGPIPE), the finished stage kept"
    out = tmp_path/'o'
    assert cli_in_process(*run_args(tiny_data, out)).returncode == 0  # baseline finished
    rec = out/'records'/'baseline.json'; before = rec.read_bytes()
    res = sh('"$0" "$@" | head -1; exit "${PIPESTATUS[0]}"', *run_args(tiny_data, out, 'baseline,normalize'), capture_output=True)
    assert res.returncode == 141, (res.returncode, res.stderr[-3000:])
    no_traceback(res)
    assert 'BrokenPipe' not in res.stderr, res.stderr
    assert len(res.stdout.splitlines()) == 1 and 'CPU recipe' in res.stdout, res.stdout  # head's one line: the recipe
    assert rec.read_bytes() == before  # the finished stage is kept as it was

def test_stdout_closed(tmp_path, tiny_data):
    "`>&-`: one line, exit code 2, before any work"
    res = sh('"$0" "$@" >&-', *run_args(tiny_data, tmp_path/'o'), stderr=subprocess.PIPE)
    assert res.returncode == 2, (res.returncode, res.stderr[-3000:])
    no_traceback(res)
    assert res.stderr.strip().splitlines() == [CLOSED], res.stderr
    assert not (tmp_path/'o').exists()

@pytest.mark.skipif(not Path('/dev/full').exists(), reason='no /dev/full on this system')
def test_stdout_full(tmp_path, tiny_data):
    "`> /dev/full`: one line, exit code 2, found on the recipe line, before the data are read or anything is trained"
    with open('/dev/full', 'w') as full:
        res = sh('"$0" "$@"', *run_args(tiny_data, tmp_path/'o'), stdout=full, stderr=subprocess.PIPE)
    assert res.returncode == 2, (res.returncode, res.stderr[-3000:])
    no_traceback(res)
    assert res.stderr.strip().splitlines() == [FULL], res.stderr
    assert not (tmp_path/'o').exists()
