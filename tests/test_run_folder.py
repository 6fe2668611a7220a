"""The run folder's promises, tested from the command line: nothing mixes, one run at a time, nothing is lost or
trusted blindly, no result from a broken run, and a full disk or a file in the way is one line and exit 2."""
import json, os, shutil, subprocess, time
from pathlib import Path
import pytest
from conftest import BIN, TINY, cli, cli_in_process

def ok(res):
    assert res.returncode == 0, (res.returncode, res.stdout[-2000:], res.stderr[-3000:])
    return res

def refused(res, *needles):
    assert res.returncode == 2, (res.returncode, res.stdout[-2000:], res.stderr[-3000:])
    assert 'Traceback' not in res.stderr and 'weights_only=False' not in res.stderr + res.stdout
    for n in needles: assert n in res.stderr, (n, res.stderr)
    return res

def baseline(data, out, *extra, in_process=False, **kw):
    "The baseline stage run as a user runs it, or (`in_process`, for the runs after a test's first) by `main` in this process"
    return (cli_in_process if in_process else cli)('run', '--data', data, '--out', out, *TINY, '--stages', 'baseline', *extra, **kw)

# --- nothing mixes
def test_same_data_spelled_another_way(tmp_path, tiny_data):
    out = tmp_path/'out'
    ok(baseline(tiny_data, out))
    (tmp_path/'link').symlink_to(tiny_data)
    rel = os.path.relpath(tiny_data, tmp_path)
    for spelling,cwd in [(f'{tiny_data}/', None), (rel, tmp_path), (tmp_path/'link', None)]:
        res = ok(baseline(spelling, out, cwd=cwd, in_process=True))
        assert '[baseline] already done' in res.stdout, spelling

def test_other_data_under_the_same_path(tmp_path, tiny_data):
    d,out = tmp_path/'data',tmp_path/'out'
    shutil.copytree(tiny_data, d)
    ok(baseline(d, out))
    shutil.copy(d/'val'/'star'/'star_0000.jpg', d/'val'/'star'/'star_extra.jpg')
    refused(baseline(d, out), 'holds results of a different recipe', 'data.fingerprint')

def test_other_recipe_number_refused(tmp_path, tiny_data):
    out = tmp_path/'out'
    ok(baseline(tiny_data, out))
    refused(baseline(tiny_data, out, '--mixup-alpha', '0.2', in_process=True), 'recipe.mixup_alpha: 0.4 → 0.2')

# --- one run at a time
def _start(data, out, *extra):
    "A long run of the baseline stage, started in the background; returns once it trains"
    p = subprocess.Popen([str(BIN/'fastbook_ch7'), 'run', '--data', str(data), '--out', str(out), *TINY[:-1], '200',
                          '--stages', 'baseline', *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**os.environ, 'PYTHONWARNINGS': 'ignore'})
    for line in p.stdout:
        if line.startswith('[baseline]'): return p
    raise AssertionError(f'the run ended before training: {p.stderr.read()[-2000:]}')

@pytest.mark.slow
def test_second_run_refused_and_killed_lock_taken_over(tmp_path, tiny_data):
    out = tmp_path/'out'
    first = _start(tiny_data, out)
    try:
        t0 = time.perf_counter()
        refused(cli('run', '--data', tiny_data, '--out', out, *TINY[:-1], '200', '--stages', 'baseline'),
                f'is in use by another run (process {first.pid})')
        assert time.perf_counter()-t0 < 60
    finally: first.kill(); first.wait()
    ok(baseline(tiny_data, tmp_path/'other'))  # unrelated folders are not locked
    again = _start(tiny_data, out)  # the killed run's lock is taken over: this one gets to train
    again.kill(); again.wait()

@pytest.mark.slow
def test_concurrent_first_runs_cannot_both_be_accepted(tmp_path, tiny_data):
    out = tmp_path/'out'
    env = {**os.environ, 'PYTHONWARNINGS': 'ignore', 'OMP_NUM_THREADS': '1'}
    ps = [subprocess.Popen([str(BIN/'fastbook_ch7'), 'run', '--data', str(tiny_data), '--out', str(out), *TINY,
                            '--stages', 'baseline', '--seed', str(seed)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=env) for seed in (1, 2)]
    res = [(p.wait(timeout=600), p.stderr.read()) for p in ps]
    assert sorted(rc for rc,_ in res) == [0, 2], res
    err = next(e for rc,e in res if rc == 2)
    assert 'in use by another run' in err or 'different recipe' in err, err
    assert json.loads((out/'recipe.json').read_text())['recipe']['seed'] in (1, 2)
    assert (out/'records'/'baseline.json').exists()

# --- nothing lost or trusted blindly
def _pickled_model(path):
    import torch
    torch.save(torch.nn.Linear(2, 2), path)  # a whole pickled module: weights_only=True must refuse it

DAMAGE = {
    'truncated record': lambda out: (out/'records'/'baseline.json').write_text((out/'records'/'baseline.json').read_text()[:50]),
    'empty record': lambda out: (out/'records'/'baseline.json').write_text(''),
    'record []': lambda out: (out/'records'/'baseline.json').write_text('[]'),
    'record {}': lambda out: (out/'records'/'baseline.json').write_text('{}'),
    'wrong keys': lambda out: (out/'records'/'baseline.json').write_text(
        (out/'records'/'baseline.json').read_text().replace('"accuracy"', '"acc"')),
    'truncated weights': lambda out: (out/'weights'/'baseline.pth').write_bytes((out/'weights'/'baseline.pth').read_bytes()[:1000]),
    'weights a folder': lambda out: ((out/'weights'/'baseline.pth').unlink(), (out/'weights'/'baseline.pth').mkdir()),
    'weights not a state dict': lambda out: _pickled_model(out/'weights'/'baseline.pth'),
}

@pytest.mark.slow
def test_damaged_records_are_trained_again(tmp_path, tiny_data):
    out = tmp_path/'out'
    ok(baseline(tiny_data, out))
    for name,damage in DAMAGE.items():
        damage(out)
        (out/'weights'/'.fastbook_ch7-baseline.pth.123.killed.tmp').write_bytes(b'half a file')  # what a killed write leaves
        res = ok(baseline(tiny_data, out, in_process=True))
        said = [l for l in res.stdout.splitlines() if 'is damaged' in l]
        assert len(said) == 1 and said[0].startswith('[baseline]') and said[0].endswith('training it again'), (name, res.stdout[-1500:])
        assert 'weights_only=False' not in res.stdout + res.stderr and 'Traceback' not in res.stderr, name
        assert 'baseline' in (out/'results.md').read_text(), name
        assert not list(out.rglob('*.tmp')), name
        if (out/'weights'/'baseline.pth').is_dir(): pytest.fail('a folder in place of the weights was left there')

def _said_damaged(res):
    "The one line a run says about a damaged record it trains again"
    said = [l for l in res.stdout.splitlines() if 'is damaged' in l]
    assert len(said) == 1 and said[0].startswith('[baseline]') and said[0].endswith('training it again'), res.stdout[-1500:]
    return said[0]

def test_edited_record_is_trained_again(tmp_path, tiny_data):
    "A record's rows changed by hand, its weights' checksum kept: its own checksum no longer matches, so it is not reused"
    out = tmp_path/'out'
    ok(baseline(tiny_data, out))
    f = out/'records'/'baseline.json'
    rec = json.loads(f.read_text())
    rec['rows'][0]['accuracy'] = 0.99
    f.write_text(json.dumps(rec, indent=1))
    res = ok(baseline(tiny_data, out, in_process=True))
    assert 'does not match its checksum' in _said_damaged(res) and '[baseline] already done' not in res.stdout
    assert json.loads(f.read_text())['rows'][0]['accuracy'] != 0.99

ROW_DAMAGE = {'train_time': lambda r: r.pop('train_time'), 'curve': lambda r: r.update(curve=[1]), 'n_valid': lambda r: r.update(n_valid=0)}

def test_incomplete_rows_are_trained_again(tmp_path, tiny_data):
    "Rows the report cannot use, in a record whose checksums match (as a faulty writer would leave it): trained again, no traceback"
    from fastbook_ch7.runfolder import RunFolder
    out = tmp_path/'out'
    ok(baseline(tiny_data, out))
    for field,damage in ROW_DAMAGE.items():
        rows = json.loads((out/'records'/'baseline.json').read_text())['rows']
        damage(rows[0])
        RunFolder(out).save('baseline', rows)
        res = ok(baseline(tiny_data, out, in_process=True))
        assert 'row 1: ' in _said_damaged(res) and field in _said_damaged(res), (field, res.stdout[-1500:])
        assert 'baseline' in (out/'results.md').read_text(), field

def test_records_without_recipe_refused(tmp_path, tiny_data):
    "recipe.json deleted: the records cannot be matched to a recipe, so another one's run is refused, not fed them"
    out = tmp_path/'out'
    ok(baseline(tiny_data, out))
    (out/'recipe.json').unlink()
    rec = (out/'records'/'baseline.json').read_text()
    refused(baseline(tiny_data, out, '--mixup-alpha', '0.2', in_process=True), 'holds records but no recipe.json', 'choose another --out',
            'delete it to start again')
    assert (out/'records'/'baseline.json').read_text() == rec and not (out/'recipe.json').exists()

def test_linked_lock_refused_and_its_target_kept(tmp_path, tiny_data):
    out,mine = tmp_path/'out',tmp_path/'my_notes.txt'
    mine.write_text('my notes'); out.mkdir(); (out/'.lock').symlink_to(mine)
    res = refused(baseline(tiny_data, out, in_process=True), '.lock is a symbolic link', 'remove the link')
    assert mine.read_text() == 'my notes' and 'train_loss' not in res.stdout

def test_users_tmp_files_kept(tmp_path, tiny_data):
    "A run removes the temporary files of its own killed writes only"
    out = tmp_path/'out'; (out/'records').mkdir(parents=True)
    (out/'.notes.tmp').write_text('mine'); (out/'records'/'.draft.tmp').write_text('mine too')
    (out/'.fastbook_ch7-results.md.99.abc.tmp').write_text('half a file')
    ok(baseline(tiny_data, out, in_process=True))
    assert (out/'.notes.tmp').read_text() == 'mine' and (out/'records'/'.draft.tmp').read_text() == 'mine too'
    assert not (out/'.fastbook_ch7-results.md.99.abc.tmp').exists()

def test_linked_folders_refused(tmp_path, tiny_data):
    "--out, records/ or weights/ a link (to another run's folder): refused, and that run's files are left as they were"
    a = tmp_path/'a'
    ok(baseline(tiny_data, a))
    before = {p: p.read_bytes() for p in a.rglob('*') if p.is_file()}
    for name in ('records', 'weights', None):
        b = tmp_path/f'b_{name}'
        if name: b.mkdir(); (b/name).symlink_to(a/name)
        else: b.symlink_to(a)
        refused(baseline(tiny_data, b, '--seed', '7', in_process=True), 'is a symbolic link', 'choose another --out')
        assert {p: p.read_bytes() for p in a.rglob('*') if p.is_file()} == before, name

def test_folder_where_results_go_refused_before_training(tmp_path, tiny_data):
    "A folder in the place of weights/baseline.pth (run) or model.pth (train): one line before training, not a traceback after it"
    out = tmp_path/'run'; (out/'weights'/'baseline.pth').mkdir(parents=True)
    res = refused(baseline(tiny_data, out), 'baseline.pth is a folder', 'move it away')
    assert 'train_loss' not in res.stdout and not (out/'records'/'baseline.json').exists()
    out = tmp_path/'train'; (out/'model.pth').mkdir(parents=True)
    res = refused(cli_in_process('train', '--data', tiny_data, *TINY[:1], '--bs', '16', '--epochs', '1', '--sizes', '16', '--out', out),
                  'model.pth is a folder', 'move it away')
    assert 'train_loss' not in res.stdout and not (out/'metrics.json').exists()

def test_weights_are_plain_state_dicts_with_checksum(tmp_path, tiny_data):
    import hashlib, torch
    out = tmp_path/'out'
    ok(baseline(tiny_data, out))
    rec = json.loads((out/'records'/'baseline.json').read_text())
    w = out/'weights'/'baseline.pth'
    assert rec['weights_sha256'] == hashlib.sha256(w.read_bytes()).hexdigest()
    assert all(isinstance(v, torch.Tensor) for v in torch.load(w, weights_only=True).values())

# --- no result from a broken run, and other faults
def test_batch_larger_than_training_set(tmp_path, tiny_data):
    n = len(list((Path(tiny_data)/'train').rglob('*.jpg')))
    res = refused(cli('run', '--data', tiny_data, '--out', tmp_path/'o', '--cpu', '--size', '16', '--epochs', '1', '--bs', str(n+1)),
                  f'batch size {n+1} is larger than the {n} training images', f'--bs {n}')
    assert 'train_loss' not in res.stdout and not (tmp_path/'o'/'records'/'baseline.json').exists()

NAN_LOSS = """
import sys, fastbook_ch7.ladder as lad
from fastbook_ch7.cli import main
make = lad.recipe_learner
def nan_loss_learner(*a, **k):  # a loss that is no longer a number from the first batch on, as a diverging run's
    learn = make(*a, **k); lf = learn.loss_func
    learn.loss_func = lambda p, y: lf(p, y) * float('nan')
    return learn
lad.recipe_learner = nan_loss_learner
sys.exit(main(sys.argv[1:]))
"""

def test_diverging_loss_is_no_result(tmp_path, tiny_data):
    out = tmp_path/'o'
    res = subprocess.run([str(BIN/'python'), '-c', NAN_LOSS, 'run', '--data', str(tiny_data), '--out', str(out), *TINY,
                          '--stages', 'baseline'], capture_output=True, text=True, timeout=600, env={**os.environ, 'PYTHONWARNINGS': 'ignore'})
    refused(res, 'the training loss became nan in epoch 1', 'smaller --lr')
    assert not (out/'records'/'baseline.json').exists()

def test_weights_folder_is_a_file(tmp_path, tiny_data):
    out = tmp_path/'o'; out.mkdir(); (out/'weights').write_text('not a folder')
    refused(baseline(tiny_data, out), 'weights is a file, not a folder')

@pytest.mark.slow
def test_full_disk(tmp_path, tiny_data):
    "A disk that fills after the first stage: exit 2, 'no space left', the finished stage kept, no temporary files"
    if not shutil.which('unshare') or subprocess.run(['unshare', '-rm', 'true']).returncode: pytest.skip('needs unshare (a private mount namespace)')
    ok(baseline(tiny_data, tmp_path/'sized'))
    room = (tmp_path/'sized'/'weights'/'baseline.pth').stat().st_size * 3 // 2  # one stage's weights fit, two do not
    out = tmp_path/'small'; out.mkdir()
    cmd = [str(BIN/'fastbook_ch7'), 'run', '--data', str(tiny_data), '--out', str(out), *TINY, '--stages', 'baseline,normalize']
    script = f'mount -t tmpfs -o size={room} tmpfs {out} && {" ".join(cmd)}; rc=$?; ls -a {out}/records {out}/weights; exit $rc'
    res = subprocess.run(['unshare', '-rm', 'sh', '-c', script], capture_output=True, text=True, timeout=600,
                         env={**os.environ, 'PYTHONWARNINGS': 'ignore'})
    refused(res, 'No space left', 'finished stages are kept')
    listed = res.stdout.split()
    assert 'baseline.json' in listed and 'normalize.json' not in listed and not [f for f in listed if f.endswith('.tmp')], res.stdout[-800:]

# --- a log a person can read
def test_log_to_a_file_has_lines_not_frames(tmp_path, tiny_data):
    res = ok(cli('run', '--data', tiny_data, '--out', tmp_path/'o', *TINY, '--stages', 'baseline,normalize', '--epochs', '2'))
    assert '\r' not in res.stdout and '█' not in res.stdout
    lines = res.stdout.splitlines()
    assert sum(l.split()[:1] == ['epoch'] for l in lines) == 2      # fastai's table header, once per training
    assert sum(l.split()[:1] in (['0'], ['1']) for l in lines) == 4  # one line per epoch
    assert len(res.stdout) < 5000
