import math

from ml4hep.tables import Column, latex_cell, number, with_error, write_table


def test_one_table_in_three_formats(tmp_path):
    rows = [
        {"name": "bdt", "auc": 0.81234, "auc_err": 0.0123, "r30": None},
        {"name": "a,b", "auc": math.nan, "auc_err": None, "r30": 427.0},
    ]
    columns = [
        Column("Tagger", "name", align="l"),
        Column("AUC", lambda r: with_error(r["auc"], r["auc_err"], 3)),
        Column("1/εB", lambda r: number(r["r30"], missing="inf")),
    ]
    write_table(rows, columns, csv=tmp_path / "t.csv", md=tmp_path / "t.md", tex=tmp_path / "t.tex", note="n")
    assert (tmp_path / "t.csv").read_text().splitlines() == [
        "name,auc,auc_err,r30",
        "bdt,0.81234,0.0123,",
        '"a,b",,,427.0',
    ]
    md = (tmp_path / "t.md").read_text().splitlines()
    assert md[:4] == ["| Tagger | AUC | 1/εB |", "|---|---|---|", "| bdt | 0.812 ± 0.012 | inf |", "| a,b | – | 427 |"]
    assert md[-1] == "n"
    tex = (tmp_path / "t.tex").read_text()
    assert r"\begin{tabular}{lcc}" in tex
    assert r"bdt & 0.812 $\pm$ 0.012 & inf \\" in tex
    assert r"1/$\epsilon$B" in tex


def test_latex_cell_escapes_specials_and_keeps_symbols_as_math():
    assert latex_cell("m_SD & τ32 (50%)") == r"$m_\mathrm{SD}$ \& $\tau_{32}$ (50\%)"
    assert latex_cell("χ²/N ≥ 1") == r"$\chi^2$/N $\geq$ 1"
    assert latex_cell("**500 (left out)**") == "500 (left out)"
