"""The report's pages of the resolved config and of the provenance record."""

from __future__ import annotations

import yaml

from ml4hep.report_pages import config_page, provenance_page, write_pages

RECORD = {
    "config": {"seed": 7, "higgs": {"limits": {"bins": 10}}, "note": "<b>not markup</b>"},
    "config_hash": "abc123",
    "git": {"commit": "deadbeef", "dirty": False},
    "packages": {"pyhf": "0.7.6", "numpy": "2.4.6"},
    "training": {"higgs/models/dnn": {"device": "cpu", "seed": 42}},
    "rule_times": {"generate_sample": {"jobs": 21, "seconds": 123.4}, "combine": {"jobs": 1, "seconds": None}},
}


def test_config_page_is_the_config_as_yaml():
    page = config_page(RECORD["config"])
    listing = page.split("<pre>")[1].split("</pre>")[0]
    unescaped = listing.replace("&lt;", "<").replace("&gt;", ">")
    assert yaml.safe_load(unescaped) == RECORD["config"]
    assert "<b>" not in page  # config text is escaped, never markup


def test_provenance_page_lists_the_run(tmp_path):
    page = provenance_page(RECORD)
    for text in ("abc123", "deadbeef", "<td>pyhf</td><td>0.7.6</td>", "<td>generate_sample</td><td>21</td>", "42"):
        assert text in page
    write_pages(RECORD, tmp_path / "config.html", tmp_path / "provenance.html")
    assert (tmp_path / "provenance.html").read_text() == page
