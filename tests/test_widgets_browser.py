"""The mixup and label-smoothing widgets, tested the way a reader uses them: in a real browser.

Why Voilà and not a small hand-written page: the widgets are ipywidgets whose pictures are drawn by Python
callbacks in a kernel. A page of our own would need its own kernel, websocket and widget-manager plumbing, so it
would test that plumbing rather than what a reader sees. Voilà renders a notebook (`tests/widgets_demo.ipynb`)
with the same JupyterLab widget manager and output area a reader gets in Jupyter, through the same kernel
round-trip (slider moved in the page → Python callback → new picture sent back), and it is one `pip install`.
The demo notebook lives in `tests/`, not `nbs/`, so nbdev neither exports nor tests it.

The test starts Voilà on a free port of 127.0.0.1 and opens the page in headless Chromium driven by Playwright:
Playwright's own Chromium where `playwright install chromium` put one (GitHub Actions), else Debian's
/usr/bin/chromium (this project's CI machine; nothing downloads a browser there). tools/install_browser.sh installs
the one that suits the machine. For each widget it moves the
slider with the keyboard (focus the handle, PageUp/PageDown, End), then checks that
- the slider's readout shows the value those keys give,
- the widget's caption shows the targets `fastbook_ch7` computes for that value (`mixup_batch` of one-hot
  targets; `smooth_targets`), e.g. the true class's smoothed target goes from 0.920 (N=5, ε=0.1) to its value for
  the new ε,
- the picture the page shows is the widget's frame function (`mixup_frame`, `smoothing_frame`) drawn for that
  value in this process, so the bars moved as they should,
- a screenshot of the widget differs from the one before the move.
It saves the screenshots to `nbs/images/` for the README.

Missing Chromium, playwright or voila → the tests skip, unless env `REQUIRE_BROWSER=1` (CI): then they fail.
"""
import base64, contextlib, importlib.util, io, os, signal, socket, subprocess, sys, tempfile, time, warnings
from pathlib import Path
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
DEMO_NB = Path(__file__).with_name('widgets_demo.ipynb')
IMAGES = ROOT/'nbs'/'images'
DEBIAN_CHROMIUM = Path('/usr/bin/chromium')
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                 '--disable-component-update', '--no-first-run']
# Generous but bounded waits: the machine may be busy. Once the page is up, the tests take seconds.
SERVER_START_S = 90     # voila listening on its port
PAGE_READY_S = 300      # kernel started, demo notebook executed (it imports fastai), both widgets drawn
UPDATE_S = 30           # one slider move → new readout, caption and picture in the page
# Voilà runs the notebook with nbclient, which mimics the Output widget while a cell runs by sending comm messages
# on the shell channel it is also waiting on for the cell's execute_reply. When the widgets drew into an `Output`,
# about one page load in three on a busy machine left that reply unread and Voilà showed "Executing k of n" for ever
# (ipykernel 6.31 and 7.4, nbclient 0.11, pyzmq 27). The widgets now show their picture in an `ipywidgets.Image`,
# which avoids it; the guard stays, in case: no progress for STALL_S → load the page again, and say so.
STALL_S = 60
LOAD_ATTEMPTS = 4
PAGE_KEY_STEPS = 5      # PageUp/PageDown move an ipywidgets slider (noUiSlider) by 5 steps
# What tests/widgets_demo.ipynb builds: keep the two in step (the tests check the page's first state against it).
MIX = dict(class_a='circle', class_b='star', lam=0.5)
SMOOTH = dict(n_classes=5, eps=0.1)


def _require(ok, reason):
    "Skip with `reason` when `ok` is false, or fail when env `REQUIRE_BROWSER=1` (CI must run these tests)"
    if ok: return
    if os.environ.get('REQUIRE_BROWSER') == '1': pytest.fail(f"REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _chromium():
    "Playwright's own Chromium if it is installed, else Debian's /usr/bin/chromium if that is, else None"
    # Playwright's first: each Playwright release is made for its own Chromium build (GitHub's runner may also have
    # a /usr/bin/chromium of another version).
    if importlib.util.find_spec('playwright') is not None:
        from playwright.sync_api import sync_playwright
        with sync_playwright() as pw: bundled = Path(pw.chromium.executable_path)
        if bundled.exists(): return bundled
    return DEBIAN_CHROMIUM if DEBIAN_CHROMIUM.exists() else None


def _check_tools():
    "The Chromium to use; skip (or fail) naming whatever the browser tests need and is missing, and how to get it"
    missing = [f"{m} (pip install {m})" for m in ('playwright', 'voila') if importlib.util.find_spec(m) is None]
    chromium = _chromium()
    if chromium is None: missing.append("Chromium (run tools/install_browser.sh: Debian's apt-get install chromium as root "
                                        "on Debian, else `python -m playwright install --with-deps chromium`)")
    _require(not missing, "the browser tests need " + ", ".join(missing))
    return chromium


def _free_port():
    "A TCP port on 127.0.0.1 that nothing listens on right now"
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _listening(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(('127.0.0.1', port)) == 0


def _tail(path, n=40):
    try: return '\n'.join(Path(path).read_text(errors='replace').splitlines()[-n:])
    except OSError: return ''


def _stop(proc):
    "Stop the voila we started, then any of its kernels still alive (they run in sessions of their own), by pid"
    import psutil
    try: kernels = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess: kernels = []
    for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):  # SIGTERM: voila shuts its kernels down
        if proc.poll() is not None: break
        proc.send_signal(sig)
        try: proc.wait(wait_s)
        except subprocess.TimeoutExpired: pass
    for k in kernels:
        try: k.kill()
        except psutil.NoSuchProcess: pass
    psutil.wait_procs(kernels, timeout=10)


@pytest.fixture(scope='module')
def chromium():
    "Path of the Chromium the tests drive (see `_chromium`)"
    path = _check_tools()
    print(f"browser: {path}")
    return path


@pytest.fixture(scope='module')
def voila(chromium):
    "Voilà serving the demo notebook on a free port of 127.0.0.1 → (url, log path); stopped with its kernels after"
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop('MPLBACKEND', None)  # the kernel uses the inline backend, as in Jupyter
    fd, log = tempfile.mkstemp(prefix='voila_', suffix='.log')
    proc = None
    try:
        for _ in range(3):  # another process may take the free port before voila binds it
            port = _free_port()
            cmd = [sys.executable, '-m', 'voila', str(DEMO_NB), '--no-browser', f'--port={port}',
                   '--Voila.ip=127.0.0.1', '--Voila.port_retries=0', '--show_tracebacks=True',
                   f'--VoilaExecutor.timeout={PAGE_READY_S}', '--VoilaExecutor.startup_timeout=120']
            proc = subprocess.Popen(cmd, cwd=DEMO_NB.parent, env=env, stdout=fd, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + SERVER_START_S
            while time.monotonic() < deadline and proc.poll() is None and not _listening(port): time.sleep(0.3)
            if proc.poll() is None and _listening(port): break
            _stop(proc)
        else: pytest.fail(f"voila did not listen within {SERVER_START_S}s; its log:\n{_tail(log)}")
        yield f'http://127.0.0.1:{port}/', log
    finally:
        if proc is not None: _stop(proc)
        os.close(fd)
        os.unlink(log)


@pytest.fixture(scope='module')
def page(voila, chromium):
    "The demo notebook's page in headless Chromium, once both widgets are drawn"
    url, log = voila
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True, timeout=60_000)
        try:
            context = browser.new_context(viewport={'width': 1000, 'height': 900}, device_scale_factor=1)
            # Offline and deterministic: only our server is reachable (Voilà's template links icon fonts on a CDN).
            context.route(lambda u: not u.startswith(url), lambda route: route.abort())
            page = context.new_page()
            page.set_default_timeout(UPDATE_S*1000)
            events = []  # what the browser did, for the failure message
            page.on('console', lambda m: events.append(f'console {m.type}: {m.text[:300]}'))
            page.on('pageerror', lambda e: events.append(f'page error: {e}'))
            page.on('requestfailed', lambda r: events.append(f'request failed: {r.url[:120]} {r.failure}'))
            page.on('response', lambda r: events.append(f'response {r.status}: {r.url[:120]}'))
            page.on('websocket', lambda w: events.append(f'websocket: {w.url[:120]}'))
            t0 = time.monotonic()
            deadline = t0 + PAGE_READY_S
            for attempt in range(1, LOAD_ATTEMPTS + 1):
                page.goto(url, wait_until='commit', timeout=PAGE_READY_S*1000)
                stalled = _wait_for_widgets(page, log, events, deadline)
                if not stalled: break
                # Voilà waits for ever for a cell's execute_reply (see STALL_S); a new page load gets a new kernel.
                warnings.warn(f"Voilà stalled at '{stalled}' for {STALL_S}s (load {attempt} of {LOAD_ATTEMPTS}); reloading. "
                              "Known race: nbclient's Output-widget emulation during execution — see STALL_S.")
            else: pytest.fail(f"Voilà stalled on each of {LOAD_ATTEMPTS} page loads", pytrace=False)
            print(f"page ready in {time.monotonic()-t0:.1f}s ({attempt} load(s))")
            yield page
        finally: browser.close()


def _wait_for_widgets(page, log, events, deadline):
    "Wait until both demo widgets show a slider and a picture → '' ; or the progress text if Voilà stalls on a cell"
    ready = "() => ['.demo-mixup', '.demo-smoothing'].every(c => document.querySelector(`${c} .noUi-handle`) && document.querySelector(`${c} img`))"
    errors = """() => [...document.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]')]
                     .map(e => e.textContent).filter(t => t.includes('Traceback')).join('\\n')"""
    progress = "() => { const e = document.getElementById('loading_text'); return e ? e.textContent : '' }"
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        if page.evaluate(ready): return ''
        if tb := page.evaluate(errors): pytest.fail(f"the demo notebook failed in Voilà:\n{tb[-3000:]}", pytrace=False)
        now = page.evaluate(progress)
        if now != last: last, since = now, time.monotonic()
        elif now and time.monotonic() - since > STALL_S: return now
        page.wait_for_timeout(500)
    body = page.evaluate("() => document.body ? document.body.innerText : ''")
    pytest.fail(f"the widgets were not drawn within {PAGE_READY_S}s.\nVoilà's log:\n{_tail(log)}\nThe browser:\n"
                + '\n'.join(events[-40:]) + f"\nThe page's text:\n{body[-1500:]}", pytrace=False)


# ---- what the page shows
def _slider(box, description):
    "The slider labelled `description` in the widget `box`"
    return box.locator('.widget-slider').filter(has=box.page.get_by_text(description, exact=True))


def _press(slider, *keys):
    "Move a slider as a keyboard user does: focus its handle, press `keys`"
    handle = slider.locator('.noUi-handle')
    handle.focus()
    for k in keys: handle.press(k)


def _screenshot(box):
    "What the reader sees of the widget `box`, as an RGB array"
    import numpy as np
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(box.screenshot(animations='disabled'))).convert('RGB'))


def _shown_picture(box):
    "The picture the widget shows (its <img>, read back through a canvas) as an RGB array, or None while loading"
    import numpy as np
    from PIL import Image
    src = box.locator('img').evaluate("""i => { if (!i.complete || !i.naturalWidth) return '';
        const c = document.createElement('canvas'); c.width = i.naturalWidth; c.height = i.naturalHeight;
        c.getContext('2d').drawImage(i, 0, 0); return c.toDataURL('image/png'); }""")
    if not src.startswith('data:image/png;base64,'): return None
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(',', 1)[1]))).convert('RGB'))


def _render(fig, shape):
    "`fig` drawn as the widget draws it: PNG at the dpi that gives the picture's `shape`, as an RGB array"
    import numpy as np
    from PIL import Image
    buf = io.BytesIO()
    fig.savefig(buf, format='png', dpi=shape[1]/fig.get_size_inches()[0])
    return np.asarray(Image.open(buf).convert('RGB'))


def _difference(a, b):
    "(mean difference in grey levels, fraction of pixels off by more than 8 levels) of two RGB arrays"
    import numpy as np
    if a.shape != b.shape: return 255., 1.
    d = np.abs(a.astype(int) - b.astype(int)).max(-1)
    return float(d.mean()), float((d > 8).mean())


def _fraction_changed(a, b):
    "Fraction of pixels that differ visibly between two screenshots (different shapes: 1)"
    import numpy as np
    return 1. if a.shape != b.shape else float((np.abs(a.astype(int) - b.astype(int)).max(-1) > 16).mean())


def _wait_for_picture(box, frame, what):
    """Wait until the widget's picture is `frame` (a Figure drawn in this process) — a move sends several pictures.
    They are the same PNG here (difference 0); frames 0.01 apart in λ or ε differ by 0.4 grey levels on average."""
    best, expected, deadline = (255., 1.), None, time.monotonic() + UPDATE_S
    while time.monotonic() < deadline:
        shown = _shown_picture(box)
        if shown is not None:
            if expected is None or expected.shape != shown.shape: expected = _render(frame, shown.shape)
            best = min(best, _difference(shown, expected))
            if best[0] < 0.1 and best[1] < 5e-4: return
        box.page.wait_for_timeout(100)
    pytest.fail(f"after {what} the page's picture never became the frame for it (closest: mean difference "
                f"{best[0]:.2f} grey levels, {best[1]:.2%} of pixels off)", pytrace=False)


def _move_and_check(box, slider, keys, value, caption, frame, what):
    "Press `keys` on `slider`; check readout, caption, picture and screenshot; return the screenshot after"
    from playwright.sync_api import expect
    before = _screenshot(box)
    t0 = time.monotonic()
    _press(slider, *keys)
    expect(slider.locator('.widget-readout'), f"slider readout after {what}").to_have_text(value, timeout=UPDATE_S*1000)
    expect(box, f"caption after {what}").to_contain_text(caption, timeout=UPDATE_S*1000)
    _wait_for_picture(box, frame, what)
    after = _screenshot(box)
    print(f"{what}: page updated in {time.monotonic()-t0:.2f}s, {_fraction_changed(before, after):.1%} of pixels changed")
    assert _fraction_changed(before, after) > 0.005, f"the screenshot hardly changed after {what}"
    return after


def _save(box, name):
    "Save the widget's screenshot for the README"
    IMAGES.mkdir(parents=True, exist_ok=True)
    box.screenshot(path=str(IMAGES/name), animations='disabled')


# ---- the tests
def test_mixup_widget_in_browser(page):
    "Move λ with PageDown and End: the caption shows the mixed one-hot target, the picture is `mixup_frame`'s"
    from fastai.vision.all import PILImage, tensor
    from fastbook_ch7.data import make_synthetic_imagenette, default_synthetic_path, SYNTH_CLASSES
    from fastbook_ch7.mixup import mixup_widget, mixup_frame, mixup_batch, one_hot
    path = make_synthetic_imagenette(default_synthetic_path())
    a, b = MIX['class_a'], MIX['class_b']
    img_a, img_b = [PILImage.create(sorted((path/'train'/c).iterdir())[0]) for c in (a, b)]
    with contextlib.redirect_stdout(io.StringIO()):
        ref = mixup_widget(img_a, img_b, a, b, SYNTH_CLASSES, lam=MIX['lam']).slider  # the slider the page shows
    ia, ib = SYNTH_CLASSES.index(a), SYNTH_CLASSES.index(b)

    def expected(lam):
        "(readout, caption, frame) for λ=`lam`, computed by fastbook_ch7"
        target = mixup_batch(tensor([[0.], [0.]]), one_hot(tensor([ia, ib]), len(SYNTH_CLASSES)), lam, tensor([1, 0]))[1][0]
        return (format(lam, ref.readout_format), f'target: {target[ia]:.2f} {a} + {target[ib]:.2f} {b}',
                mixup_frame(lam, img_a, img_b, a, b, SYNTH_CLASSES))

    box = page.locator('.demo-mixup')
    slider = _slider(box, ref.description)
    value, caption, frame = expected(ref.value)
    from playwright.sync_api import expect
    expect(slider.locator('.widget-readout')).to_have_text(value)
    expect(box).to_contain_text(caption)
    _wait_for_picture(box, frame, 'loading the page')

    lam = round(ref.value - 4*PAGE_KEY_STEPS*ref.step, 6)  # 0.5 → 0.3: the book's 0.3·church + 0.7·gas pump
    _move_and_check(box, slider, ['PageDown']*4, *expected(lam), what=f'PageDown×4 (λ={lam})')
    _save(box, 'mixup_widget.png')
    _move_and_check(box, slider, ['End'], *expected(ref.max), what=f'End (λ={ref.max})')


def test_smoothing_widget_in_browser(page):
    "Move ε with PageUp and End: the text shows `smooth_targets` for the new ε, the picture is `smoothing_frame`'s"
    from fastai.vision.all import tensor
    from fastbook_ch7.smoothing import smoothing_widget, smoothing_frame, smooth_targets
    with contextlib.redirect_stdout(io.StringIO()): ref = smoothing_widget(**SMOOTH)  # the widget the page shows
    n, true_class = ref.n.value, ref.true_class.value

    def expected(eps):
        "(readout, caption, frame) for ε=`eps`, computed by fastbook_ch7"
        t = smooth_targets(tensor([true_class]), n, eps)[0]
        return (format(eps, ref.eps.readout_format), f'true class: {t[true_class]:.3f}, others: {t[(true_class+1) % n]:.3f}',
                smoothing_frame(eps, n, true_class))

    box = page.locator('.demo-smoothing')
    slider = _slider(box, ref.eps.description)
    value, caption, frame = expected(ref.eps.value)   # N=5, ε=0.1: the chapter's 0.920 and 0.020
    from playwright.sync_api import expect
    expect(slider.locator('.widget-readout')).to_have_text(value)
    expect(box).to_contain_text(caption)
    _wait_for_picture(box, frame, 'loading the page')

    eps = round(ref.eps.value + 4*PAGE_KEY_STEPS*ref.eps.step, 6)  # 0.1 → 0.3
    _move_and_check(box, slider, ['PageUp']*4, *expected(eps), what=f'PageUp×4 (ε={eps})')
    _save(box, 'smoothing_widget.png')
    _move_and_check(box, slider, ['End'], *expected(ref.eps.max), what=f'End (ε={ref.eps.max})')
