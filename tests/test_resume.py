"A ladder run killed in the middle of a stage resumes: finished stages are skipped, the unfinished one is redone."
import json, os, signal, subprocess, threading, time
import pytest
from conftest import BIN, TINY, cli, cli_in_process

pytestmark = pytest.mark.slow

STAGES = 'baseline,normalize_long'

LONG = [*TINY, '--long-factor', '60']  # a second stage long enough to be killed in the middle (60 epochs), after a 1-epoch baseline

def _default_signals():
    "The child's signals as a terminal gives them: a test started as a background job inherits SIGINT ignored"
    for s in (signal.SIGINT, signal.SIGTERM): signal.signal(s, signal.SIG_DFL)

def start(data, out):
    return subprocess.Popen([str(BIN/'fastbook_ch7'), 'run', '--data', str(data), '--out', str(out), *LONG, '--stages', STAGES],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, 'PYTHONWARNINGS': 'ignore'},
                            preexec_fn=_default_signals)

def wait_for_stage(proc, stage, timeout=300):
    "Drain the run's stdout in a thread (so it never blocks on a full pipe) until it starts `stage`"
    started = threading.Event()
    def drain():
        for line in proc.stdout:
            if line.startswith(f'[{stage}]'): started.set()
    threading.Thread(target=drain, daemon=True).start()
    assert started.wait(timeout), f'{stage} did not start within {timeout}s'
    assert proc.poll() is None, 'the run ended before it could be killed'


@pytest.mark.parametrize('sig', [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_kill_and_resume(tmp_path, tiny_data, sig):
    out = tmp_path/'out'
    proc = start(tiny_data, out)
    wait_for_stage(proc, 'normalize_long')
    time.sleep(2)  # inside the normalize_long stage's training (60 epochs)
    proc.send_signal(sig)
    rc = proc.wait(timeout=120)
    err = proc.stderr.read()
    if sig in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C and kill/scheduler stops: one line, 128 + the signal
        assert rc == 128 + sig, (rc, err[-2000:])
        assert 'run the same command again to resume' in err and 'Traceback' not in err
        assert not [p for p in out.rglob('*') if p.name.endswith('.tmp')], 'temporary files removed'
    else: assert rc == -signal.SIGKILL
    assert (out/'records'/'baseline.json').exists() and (out/'weights'/'baseline.pth').exists()
    assert not (out/'records'/'normalize_long.json').exists()
    baseline_row = (out/'records'/'baseline.json').read_text()
    res = cli_in_process('run', '--data', tiny_data, '--out', out, *LONG, '--stages', STAGES)
    assert res.returncode == 0, res.stderr[-3000:]
    assert '[baseline] already done' in res.stdout
    assert '[normalize_long]' in res.stdout and '[normalize_long] already done' not in res.stdout
    assert (out/'records'/'baseline.json').read_text() == baseline_row, 'a finished stage is never redone'
    rows = [l.split(',')[0] for l in (out/'results.csv').read_text().splitlines()[1:]]
    assert rows == ['baseline', 'normalize_long']
    assert not [p for p in out.rglob('*') if p.name.endswith('.tmp')], 'a finished run leaves no temporary files'

def test_resumed_equals_fresh(tmp_path, tiny_data):
    "Every stage starts from the same seed, so a stage redone after a kill gives the same numbers as a fresh run"
    fresh = cli('run', '--data', tiny_data, '--out', tmp_path/'fresh', *TINY, '--stages', STAGES)
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    part = cli_in_process('run', '--data', tiny_data, '--out', tmp_path/'part', *TINY, '--stages', 'baseline')
    assert part.returncode == 0
    rest = cli_in_process('run', '--data', tiny_data, '--out', tmp_path/'part', *TINY, '--stages', STAGES)
    assert rest.returncode == 0
    acc = lambda o: [json.loads((tmp_path/o/'records'/f'{s}.json').read_text())['rows'][0]['accuracy'] for s in STAGES.split(',')]
    assert acc('fresh') == acc('part')

def test_other_recipe_refused(tmp_path, tiny_data):
    out = tmp_path/'out'
    assert cli('run', '--data', tiny_data, '--out', out, *TINY, '--stages', 'baseline').returncode == 0
    res = cli_in_process('run', '--data', tiny_data, '--out', out, *TINY[:-1], '2', '--stages', 'baseline')
    assert res.returncode == 2 and 'holds results of a different recipe' in res.stderr and 'Traceback' not in res.stderr

def test_missing_weights_retrained(tmp_path, tiny_data):
    "A finished stage whose weights a later stage needs, but which were deleted, is trained again instead of failing"
    out = tmp_path/'out'
    assert cli('run', '--data', tiny_data, '--out', out, *TINY, '--stages', 'progressive').returncode == 0
    (out/'weights'/'progressive.pth').unlink()
    res = cli_in_process('run', '--data', tiny_data, '--out', out, *TINY, '--stages', 'tta')
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'weights progressive.pth are missing' in res.stdout and (out/'weights'/'progressive.pth').exists()
    assert (out/'records'/'tta.json').exists()

def test_cutmix_stage(tmp_path, tiny_data):
    "The stage only run when asked for: trains the progressive recipe with CutMix and reports its row"
    out = tmp_path/'out'
    res = cli('run', '--data', tiny_data, '--out', out, *TINY, '--stages', 'cutmix')
    assert res.returncode == 0, res.stderr[-3000:]
    row, = json.loads((out/'records'/'cutmix.json').read_text())['rows']
    assert row['stage'] == 'cutmix' and 0 <= row['accuracy'] <= 1 and row['epochs'] > 0 and row['curve']
    assert 'cutmix' in (out/'results.md').read_text()
