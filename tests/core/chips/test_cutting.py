"""What a chipping worker process imports: a spawned worker starts on the chipper alone."""

import json
import subprocess
import sys


def test_a_worker_imports_no_table_schema_and_no_matcher():
    probe = ("import json, sys; import shipchips_core.chips.cutting; "
             "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('pandera', 'shapely', 'pydantic', 'dagster') "
             "or m in ('shipchips_core.dataset.schemas', 'shipchips_core.matching.candidates'))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []
