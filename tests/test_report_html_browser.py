"""report.html in Chromium with scripts off: the CSS-only filters really filter."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser
from runner_support import REPLAY, SIGN_IN, SKEW, ReplayingClinic, catalogue, memory_of, run_here


def test_the_filters_work_without_script(browser: Browser, tmp_path: Path) -> None:
    done = run_here(tmp_path, catalogue(SIGN_IN, REPLAY, SKEW),
                    provider=memory_of(ReplayingClinic))
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto((done.report_dir / "report.html").as_uri())
    visible = page.locator(".scenarios .sc:visible")
    assert visible.count() == 3
    page.click("label[for=v-bad]")
    assert [visible.nth(i).get_attribute("id") for i in range(visible.count())] == ["sc-T-REPLAY"]
    page.click("label[for=v-all]")
    page.click("label[for=g-TROUBLE-2]")  # the skew scenario serves the troubleshooting row
    assert [visible.nth(i).get_attribute("id") for i in range(visible.count())] == ["sc-T-SKEW"]
    page.click("label[for=v-bad]")  # both filters at once: nothing fails under TROUBLE-2
    assert visible.count() == 0
    context.close()
