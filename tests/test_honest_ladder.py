"The ladder measures each technique against its own reference, with the uncertainty that fits the comparison."
import csv, json
from pathlib import Path
import pytest
from conftest import TINY, cli

def read_csv(f): return list(csv.DictReader(open(f)))

@pytest.mark.slow
def test_seeds_noise_and_verdicts(tmp_path, tiny_data):
    out = tmp_path/'out'
    res = cli('run', '--data', tiny_data, '--out', out, *TINY, '--seeds', '2', '--stages', 'noisy,label_smoothing_noisy,tta')  # references run only when asked for
    assert res.returncode == 0, res.stderr[-3000:]
    rows = json.loads((out/'records'/'noisy.json').read_text())['rows']
    assert [r['seed'] for r in rows] == [42, 43]                       # a training stage runs once per seed
    assert len(json.loads((out/'records'/'tta.json').read_text())['rows']) == 1  # an evaluation runs once, paired
    noisy = Path(f'{tiny_data}_noise25')
    assert json.loads((noisy/'synthetic.json').read_text())['label_noise'] == 0.25  # the noisy twin, made beside the data
    eff = {(e['stage'], e['vs']): e for e in read_csv(out/'effects.csv')}
    assert eff[('label_smoothing_noisy', 'noisy')]['test'] == 'seed spread (Welch t)'
    assert eff[('tta', 'progressive')]['test'] == 'McNemar (paired)' and 0 <= float(eff[('tta', 'progressive')]['p']) <= 1
    assert {e['verdict'] for e in eff.values()} <= {'helps', 'hurts', 'no detectable effect'}
    stages = {r['stage']: r for r in read_csv(out/'results.csv')}
    assert stages['noisy']['seeds'] == '2' and stages['tta']['seeds'] == '1'
    md = (out/'results.md').read_text()
    assert '## Effects' in md and 'helps most when labels are noisy' in md  # the chapter's claim beside the measurement

def test_list_shows_every_stage():
    res = cli('run', '--list')
    assert res.returncode == 0
    names = [l.split()[0] for l in res.stdout.splitlines()]
    assert names[:3] == ['baseline', 'normalize', 'progressive'] and 'label_smoothing_noisy' in names and 'cutmix' in names
