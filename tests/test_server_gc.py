"""The server freezes the libraries' objects once, so Streamlit's full collection after every
script run walks only what the pages made (app/server_gc.py)."""

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_the_first_page_freezes_the_libraries_out_of_the_collectors_sight(mnist_cached):
    script = (
        "import gc, json\n"
        "from streamlit.testing.v1 import AppTest\n"
        "at = AppTest.from_file('app/streamlit_app.py', default_timeout=120).run()\n"
        "gc.collect()  # as Streamlit does after each run (runner.postScriptGC)\n"
        "walked = len(gc.get_objects())\n"
        "at.run()\n"
        "print(json.dumps({'frozen': gc.get_freeze_count(), 'walked': walked,\n"
        "                  'exceptions': [e.value for e in at.exception]}))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=ROOT, timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout.strip().splitlines()[-1])
    assert got["exceptions"] == []
    # plotly, pandas, NumPy and the engine: hundreds of thousands of objects, frozen once.
    assert got["frozen"] > 100_000, got
    assert got["walked"] < got["frozen"] / 4, got
