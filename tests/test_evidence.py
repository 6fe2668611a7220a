"The evidence statistics through the installed package: the verdict rule and the exact paired test on made-up predictions."
import math
import numpy as np
import pytest
import torch
from scipy.stats import binomtest
from fastbook_ch7.evidence import (mcnemar_test, paired_bootstrap, verdict, difference, seed_spread, accuracy_se,
                                   expected_calibration_error)

@pytest.mark.parametrize('diff,se,p,expected', [
    (0.03, 0.01, None, 'helps'), (-0.03, 0.01, None, 'hurts'),
    (0.02, 0.01, None, 'no detectable effect'), (-0.02, 0.01, None, 'no detectable effect'),  # exactly z·se: not beyond
    (0.0201, 0.01, None, 'helps'), (-0.0201, 0.01, None, 'hurts'),
    (0.001, 0.0, None, 'helps'), (0.0, 0.0, None, 'no detectable effect'),                     # se 0: any change counts
    (0.05, math.nan, None, 'no detectable effect'), (math.nan, 0.01, None, 'no detectable effect'),
    (0.015, 0.013, 0.002, 'helps'), (-0.015, 0.013, 0.002, 'hurts'),                            # the paired p decides
    (0.015, None, 0.05, 'no detectable effect'), (0.015, None, 0.0499, 'helps'),                # p == alpha: not below
    (0.2, 0.001, 0.3, 'no detectable effect'), (0.01, None, math.nan, 'no detectable effect')])
def test_verdict_rule(diff, se, p, expected):
    assert verdict(diff, se, p) == expected

def test_verdict_options_and_errors():
    assert verdict(0.025, 0.01, z=3) == 'no detectable effect' and verdict(0.035, 0.01, z=3) == 'helps'
    assert verdict(0.015, None, p=0.02, alpha=0.01) == 'no detectable effect'
    with pytest.raises(ValueError, match='needs an se'): verdict(0.01, None)
    with pytest.raises(ValueError, match='negative'): verdict(0.01, -1e-3)

def test_seed_spread_verdict_is_welch_t():
    "Two trainings with seed spreads: the verdict is Welch's t-test (few seeds need more than 2 se), and `difference` gives its p"
    from scipy.stats import ttest_ind
    a,b = [0.70, 0.72, 0.71], [0.735, 0.75, 0.72]
    d,ref = difference(a, b),ttest_ind(b, a, equal_var=False)
    assert math.isclose(d.p, ref.pvalue, rel_tol=1e-9) and math.isclose(d.df, ref.df, rel_tol=1e-9)
    assert d.diff > 2*d.se and ref.pvalue > 0.05                         # beyond 2 se, yet not significant on 3 seeds a side
    assert verdict(d.diff, d.se) == 'helps' and verdict(d.diff, d.se, df=d.df) == 'no detectable effect'
    assert verdict(d.diff, d.se, df=d.df) == verdict(d.diff, d.se, p=d.p)
    assert verdict(0.028, 0.01, df=4) == 'helps' and verdict(0.027, 0.01, df=4) == 'no detectable effect'  # t(4) 2.776
    assert math.isnan(difference([0.8], [0.82], n_valid=1000).p)         # one run: no t-test, the binomial z rule

def made_up_pair(n=2000, fixed=60, broken=30, seed=0):
    "Per-image correctness of two predictions: b fixes `fixed` of a's mistakes and breaks `broken` of its right answers"
    rng = np.random.default_rng(seed)
    a = rng.random(n) < 0.8
    b = a.copy()
    b[rng.choice(np.flatnonzero(~a), fixed, replace=False)] = True
    b[rng.choice(np.flatnonzero(a), broken, replace=False)] = False
    return a, b

@pytest.mark.parametrize('fixed,broken', [(60, 30), (30, 60), (5, 0), (0, 0), (12, 12), (400, 350)])
def test_mcnemar_against_scipy(fixed, broken):
    a,b = made_up_pair(fixed=fixed, broken=broken)
    r = mcnemar_test(a, b)
    assert (r.n, r.n01, r.n10) == (len(a), fixed, broken)
    assert r.diff == pytest.approx(b.mean() - a.mean(), abs=1e-12)
    ref = 1.0 if fixed + broken == 0 else binomtest(fixed, fixed + broken, 0.5).pvalue
    assert r.p == pytest.approx(ref, rel=1e-9, abs=1e-15)
    assert r['p'] == r.p  # a dict with attribute access

def test_mcnemar_verdict_and_inputs():
    a,b = made_up_pair()
    r = mcnemar_test(a, b)
    assert r.p < 0.01 and verdict(r.diff, None, p=r.p) == 'helps'
    assert verdict(-r.diff, None, p=mcnemar_test(b, a).p) == 'hurts'
    assert mcnemar_test(torch.tensor(a), torch.tensor(b).int()) == r
    with pytest.raises(ValueError, match='same images'): mcnemar_test(a, b[:-1])
    with pytest.raises(ValueError, match='boolean'): mcnemar_test([0, 2], [1, 1])

def test_paired_bootstrap_made_up():
    a,b = made_up_pair()
    diff,se,lo,hi = paired_bootstrap(a, b, n_boot=1000, seed=1)
    p01,p10 = (~a & b).mean(), (a & ~b).mean()
    assert diff == pytest.approx(b.mean() - a.mean())
    assert se == pytest.approx(math.sqrt((p01 + p10 - (p01 - p10)**2)/len(a)), rel=0.1)
    assert lo < diff < hi and lo > 0
    assert paired_bootstrap(a, b, n_boot=1000, seed=1) == (diff, se, lo, hi)

def test_two_trainings():
    assert math.isnan(seed_spread([0.8]).se)
    d = difference([0.80], [0.82], n_valid=1000)
    assert d.se == pytest.approx(math.hypot(accuracy_se(0.8, 1000), accuracy_se(0.82, 1000)))
    assert 'binomial' in d.uncertainty and verdict(d.diff, d.se) == 'no detectable effect'
    assert math.isnan(difference(0.8, 0.9).se) and verdict(0.1, difference(0.8, 0.9).se) == 'no detectable effect'

def test_ece_extremes():
    assert expected_calibration_error(torch.eye(3), torch.arange(3)) == 0.0
    assert expected_calibration_error(torch.eye(3), torch.tensor([1, 2, 0])) == 1.0
