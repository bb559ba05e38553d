"""Progress off a terminal: plain lines only (no bar, no control characters), a last line with the totals."""

import io
import re

from shipchips_core.progress import Progress, is_terminal, polling

BAR_OR_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f\u2500-\u259f]")  # C0 controls but \n, box/block drawing


def test_off_a_terminal_progress_is_a_few_plain_lines_with_the_totals():
    out = io.StringIO()
    assert not is_terminal(out)
    with Progress("cutting chips", 40, "chips", stream=out, every_s=3600) as bar:
        for _ in range(40):
            bar.advance()
    text = out.getvalue()
    assert not BAR_OR_CONTROL.search(text)
    lines = text.splitlines()
    assert lines[0] == "cutting chips: 40 chips to go"
    assert re.fullmatch(r"cutting chips: 40/40 chips in \d+\.\d s \([\d,.]+ chips/s\) \[done\]", lines[-1])
    assert len(lines) == 2  # nothing in between: the interval was not reached


def test_an_open_ended_line_carries_its_status_and_a_failure_is_said(tmp_path):
    out = io.StringIO()
    try:
        with Progress("collecting AIS", None, "msg", stream=out, every_s=0) as line:
            line.update(1200, status="1,190 landed, 10 quarantined")
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    lines = out.getvalue().splitlines()
    assert lines[0] == "collecting AIS: started" and not BAR_OR_CONTROL.search(out.getvalue())
    assert lines[1].startswith("collecting AIS: 1,200 msg in ") and lines[1].endswith("1,190 landed, 10 quarantined")
    assert lines[-1].endswith("1,190 landed, 10 quarantined [failed]")


def test_polling_calls_until_the_block_ends_and_survives_a_failing_reader():
    seen = []
    with polling(lambda: seen.append(1), every_s=0.01):
        while len(seen) < 3:
            pass
    n = len(seen)
    assert n >= 3
    with polling(lambda: 1 / 0, every_s=0.01):
        pass
    assert len(seen) == n
