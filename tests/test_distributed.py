"""`fastbook_ch7 run` under `accelerate launch` with two processes: fastai's `distrib_ctx` on CPUs (gloo), on the tiny set.

On a machine without a GPU, `accelerate launch --cpu` starts one process (it needs mpirun for more), so the test starts two
with `--multi_gpu` and `ACCELERATE_USE_CPU=1` (which makes accelerate choose gloo on CPUs), through tests/distributed_cpu.py
(fastai's `DistributedDL` broadcasts on CUDA only; that file moves that one broadcast to the CPU)."""
import json, os, subprocess
import pytest
from conftest import BIN, ROOT, TINY

pytest.importorskip('accelerate')

def launch(data, out):
    cmd = [str(BIN/'accelerate'), 'launch', '--multi_gpu', '--num_processes', '2', '--num_machines', '1', '--mixed_precision', 'no',
           '--dynamo_backend', 'no', '--main_process_port', '0', str(ROOT/'tests'/'distributed_cpu.py'),
           'run', '--data', str(data), '--out', str(out), *TINY, '--stages', 'baseline,tta']
    env = {**os.environ, 'ACCELERATE_USE_CPU': '1', 'OMP_NUM_THREADS': '1', 'PYTHONWARNINGS': 'ignore', 'PYTHONPATH': str(ROOT)}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)

def test_two_processes_train_rank0_records_and_resume(tmp_path, tiny_data):
    out = tmp_path/'out'
    res = launch(tiny_data, out)
    assert res.returncode == 0, res.stderr[-3000:]
    for s in ('baseline', 'progressive', 'tta'): assert res.stdout.count(f'[{s}]') == 1, res.stdout  # said once: by rank 0
    assert res.stdout.count('# fastbook_ch7 ladder') == 1
    assert json.loads((out/'recipe.json').read_text())['processes'] == 2, 'a two-process run is its own recipe'
    assert sorted(p.name for p in (out/'records').iterdir()) == ['baseline.json', 'progressive.json', 'tta.json']
    rows = {s: json.loads((out/'records'/f'{s}.json').read_text())['rows'][0] for s in ('baseline', 'progressive', 'tta')}
    assert all(r['n_valid'] == 40 for r in rows.values()), 'evaluated once on the whole validation set, not gathered twice'
    assert rows['baseline']['curve'] and rows['baseline']['epochs'] == 1
    assert [l.split(',')[0] for l in (out/'results.csv').read_text().splitlines()[1:]] == ['baseline', 'progressive', 'tta']
    assert not [p for p in out.rglob('*') if p.name.endswith('.tmp')]
    records = {p.name: p.read_text() for p in (out/'records').iterdir()}
    again = launch(tiny_data, out)
    assert again.returncode == 0, again.stderr[-3000:]
    for s in ('baseline', 'progressive', 'tta'): assert again.stdout.count(f'[{s}] already done') == 1, again.stdout
    assert 'train_loss' not in again.stdout, 'nothing trained again'
    assert {p.name: p.read_text() for p in (out/'records').iterdir()} == records
