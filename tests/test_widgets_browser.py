"""The mixup and label-smoothing widgets, tested the way a reader uses them: in a real browser.

Why Voilà and not a small hand-written page: the widgets are ipywidgets whose pictures are drawn by Python
callbacks in a kernel. A page of our own would need its own kernel, websocket and widget-manager plumbing —
i.e. it would re-implement (and so test) our plumbing, not what a reader sees. Voilà renders a notebook
(`tests/widgets_demo.ipynb`) with the same JupyterLab widget manager and output area a reader gets in Jupyter,
from the same kernel round-trip (slider moved in the page → Python callback → new picture sent back), and is one
`pip install`. The demo notebook lives in `tests/`, not `nbs/`, so nbdev neither exports nor tests it.

The test starts Voilà on a free port of 127.0.0.1, opens the page in Debian's headless Chromium driven by
Playwright (`executable_path='/usr/bin/chromium'`; nothing downloads a browser), moves the λ and ε sliders with
the keyboard, checks that the text on the page shows the values `fastbook_ch7` computes for the new slider value,
and that the screenshot of the widget changed. It saves the screenshots to `nbs/images/` for the README.

Missing Chromium, playwright or voila → the tests skip, unless `REQUIRE_BROWSER=1` (CI), then they fail.
"""
import importlib.util, os, re, signal, socket, subprocess, sys, tempfile, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO_NB = Path(__file__).with_name('widgets_demo.ipynb')
IMAGES = ROOT/'nbs'/'images'
CHROMIUM = Path('/usr/bin/chromium')
CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                 '--disable-component-update', '--no-first-run']
# Generous but bounded: the machine may be busy. Once the page is up, the tests themselves take seconds.
SERVER_START_S = 90     # voila process listening on its port
PAGE_READY_S = 300      # kernel started, notebook executed (imports fastai), both widgets drawn
UPDATE_MS = 30_000      # one slider move → new values and new picture on the page


def _require(ok, reason):
    "Skip with `reason` when `ok` is false — or fail when env `REQUIRE_BROWSER=1` (CI must run these tests)"
    if ok: return
    if os.environ.get('REQUIRE_BROWSER') == '1': pytest.fail(f"REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _check_tools():
    "Everything the browser tests need, or skip/fail naming what is missing and how to get it"
    missing = [f"{m} (pip install {m})" for m in ('playwright', 'voila') if importlib.util.find_spec(m) is None]
    if not CHROMIUM.exists(): missing.append(f"{CHROMIUM} (run tools/install_browser.sh, i.e. apt-get install -y chromium)")
    _require(not missing, "browser test needs " + ", ".join(missing))


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
    "Stop the voila process we started and its kernels (they share its process group), waiting a bounded time"
    if proc.poll() is not None: return
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try: os.killpg(proc.pid, sig)
        except ProcessLookupError: return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired: pass


@pytest.fixture(scope='module')
def voila_url():
    "Voilà serving the demo notebook on a free port of 127.0.0.1; killed (with its kernels) at teardown"
    _check_tools()
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop('MPLBACKEND', None)  # the kernel must use the inline backend, as in Jupyter, to show figures
    log = tempfile.NamedTemporaryFile('w+', prefix='voila_', suffix='.log', delete=False)
    proc = None
    try:
        for attempt in range(3):  # another process may grab the free port before voila binds it
            port = _free_port()
            cmd = [sys.executable, '-m', 'voila', str(DEMO_NB), '--no-browser', f'--port={port}',
                   '--Voila.ip=127.0.0.1', '--Voila.port_retries=0', '--show_tracebacks=True',
                   '--VoilaExecutor.timeout=240', '--VoilaExecutor.startup_timeout=120']
            proc = subprocess.Popen(cmd, cwd=DEMO_NB.parent, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            deadline = time.monotonic() + SERVER_START_S
            while time.monotonic() < deadline and proc.poll() is None and not _listening(port): time.sleep(0.3)
            if proc.poll() is None and _listening(port): break
            _stop(proc)
        else:
            pytest.fail(f"voila did not start listening within {SERVER_START_S}s; its log:\n{_tail(log.name)}")
        yield f'http://127.0.0.1:{port}/'
    finally:
        if proc is not None: _stop(proc)
        log.close()
        os.unlink(log.name)


@pytest.fixture(scope='module')
def page(voila_url):
    "The demo notebook's page in headless Chromium, once both widgets are drawn"
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, timeout=60_000)
        try:
            context = browser.new_context(viewport={'width': 1000, 'height': 900}, device_scale_factor=1)
            # Offline and deterministic: only our server is reachable (Voilà's template links icon fonts on a CDN).
            context.route(lambda url: not url.startswith(voila_url), lambda route: route.abort())
            page = context.new_page()
            page.set_default_timeout(UPDATE_MS)
            page.goto(voila_url, wait_until='commit', timeout=PAGE_READY_S*1000)
            _wait_for_widgets(page)
            yield page
        finally:
            browser.close()


WIDGETS = {'mixup': '.demo-mixup', 'smoothing': '.demo-smoothing'}


def _wait_for_widgets(page):
    "Wait until every demo widget has a slider and a picture, failing early with the page's error text"
    deadline = time.monotonic() + PAGE_READY_S
    ready = ' && '.join(f"document.querySelector('{css} .widget-slider .noUi-handle') && "
                        f"document.querySelector('{css} img')" for css in WIDGETS.values())
    while time.monotonic() < deadline:
        if page.evaluate(f"() => !!({ready})"): return
        errors = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"], '
                              '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]')
        text = '\n'.join(errors.all_inner_texts())
        if 'Traceback' in text or 'Error' in text: pytest.fail(f"the demo notebook failed in Voilà:\n{text[-3000:]}")
        page.wait_for_timeout(500)
    pytest.fail(f"the widgets were not drawn within {PAGE_READY_S}s; page text:\n{page.inner_text('body')[-2000:]}")


def _slider(box, description):
    "The slider labelled `description` inside the widget `box`"
    return box.locator('.widget-slider').filter(has=box.page.locator('.widget-label', has_text=re.compile(f'^{re.escape(description)}$')))


def _slider_value(slider):
    return float(slider.locator('.noUi-handle').get_attribute('aria-valuenow'))


def _picture(box):
    "What the reader sees of `box`, as an RGB array"
    import numpy as np
    from io import BytesIO
    from PIL import Image
    return np.asarray(Image.open(BytesIO(box.screenshot(animations='disabled'))).convert('RGB'))


def _img_srcs(box): return box.locator('img').evaluate_all('imgs => imgs.map(i => i.src)')


def _wait_new_picture(page, box, old_srcs):
    "Wait until the kernel has sent a new picture (the widget's <img> sources changed) and it has loaded"
    deadline = time.monotonic() + UPDATE_MS/1000
    while time.monotonic() < deadline:
        srcs = _img_srcs(box)
        if srcs and srcs != old_srcs and box.locator('img').evaluate_all('imgs => imgs.every(i => i.complete)'): return
        page.wait_for_timeout(100)
    pytest.fail(f"the widget's picture did not change within {UPDATE_MS/1000}s of moving the slider")


def _pixels_changed(before, after):
    "Fraction of pixels that differ between two screenshots (different sizes count as all changed)"
    import numpy as np
    if before.shape != after.shape: return 1.0
    return float((np.abs(before.astype(int) - after.astype(int)).max(-1) > 16).mean())


def _move(slider, *keys):
    "Move a slider the way a keyboard user does: focus its handle, press `keys`"
    handle = slider.locator('.noUi-handle')
    handle.focus()
    for k in keys: handle.press(k)


def _save(box, name):
    IMAGES.mkdir(parents=True, exist_ok=True)
    box.screenshot(path=str(IMAGES/name), animations='disabled')
