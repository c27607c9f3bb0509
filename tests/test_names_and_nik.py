"""Name normalisation and NIK structure rules (docs/domain.md)."""

from __future__ import annotations

import pandas as pd
import pytest

from matching.names import fold_spelling, normalise_names
from matching.nik import clean_identifier, nik_parts, nik_structure_issue, pseudonymise


@pytest.mark.parametrize(
    ("raw", "norm", "titles"),
    [
        ("H. MOCH. DJOKO SOEHARTO, S.PD., M.M.", "MUHAMMAD DJOKO SOEHARTO", "H. S.PD. M.M."),
        ("Hj. Siti Aisyah", "SITI AISYAH", "HJ."),
        ("DRS. R. BAMBANG TJAHJONO SH", "BAMBANG TJAHJONO", "DRS. R. SH"),
        ("MHD YUSUF", "MUHAMMAD YUSUF", None),
        ("MOHAMMAD YUSUF", "MUHAMMAD YUSUF", None),
        ("I WAYAN SUDARSANA", "I WAYAN SUDARSANA", None),
        ("AHMAD BIN ABDULLAH", "AHMAD BIN ABDULLAH", None),  # bin stays
        ("H", "H", None),  # a one-letter name is not a title
        ("...", None, None),
    ],
)
def test_normalise_names(raw, norm, titles):
    got = normalise_names(pd.Series([raw])).iloc[0]
    assert (pd.isna(got["name_norm"]) and norm is None) or got["name_norm"] == norm
    assert (pd.isna(got["name_titles"]) and titles is None) or got["name_titles"] == titles


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("DJOKO SOEHARTO", "JOKO SUHARTO"),
        ("TJAHJO KUMOLO", "CAHYO KUMOLO"),
        ("JUSUF", "YUSUF"),
        ("RACHMAT", "RAKHMAT"),
        ("RACHMAT", "RAHMAT"),
        ("SJAHRIR", "SYAHRIR"),
        ("NJOMAN", "NYOMAN"),
        ("MOHAMMAD", "MOHAMAD"),
        ("SURYANI", "SURIANI"),
    ],
)
def test_old_and_new_spellings_fold_together(old, new):
    folded = fold_spelling(pd.Series([old, new]))
    assert folded[0] == folded[1]


def test_distinct_names_stay_distinct():
    folded = fold_spelling(pd.Series(["GEROGOL", "GROGOL", "BUDI", "BADI"]))
    assert folded[0] != folded[1] and folded[2] != folded[3]


def test_nik_structure_rules():
    niks = pd.Series(
        [
            "6309013112850001",  # man, 31-12-85
            "6309017112850001",  # woman, day 31 + 40
            "6300013112850001",  # kab 00
            "6309003112850001",  # kec 00
            "6309013212850001",  # day 32
            "6309017212850001",  # day 72 (woman, 32)
            "6309013113850001",  # month 13
            "6309013112850000",  # serial 0000
        ]
    )
    issues = nik_structure_issue(niks)
    assert list(issues.isna()) == [True, True, False, False, False, False, False, False]
    parts = nik_parts(niks.iloc[:2])
    assert list(parts["sex"]) == ["M", "F"] and list(parts["day"]) == [31, 31]
    assert list(parts["region"]) == ["630901", "630901"]


def test_clean_identifier_never_returns_the_value_as_reason():
    raw = pd.Series(["6.30901E+15", "6309013112850001", "12345"])
    cleaned = clean_identifier(raw)
    assert cleaned["value"].tolist()[1] == "6309013112850001"
    for reason in cleaned["issue"].dropna():
        assert not any(ch.isdigit() for ch in reason)


def test_pseudonyms_are_keyed_and_separated_by_purpose():
    values = pd.Series(["6309013112850001", None])
    a = pseudonymise(values, b"k1", purpose="nik")
    assert pd.isna(a[1]) and "6309013112850001" not in a[0]
    assert a[0] != pseudonymise(values, b"k2", purpose="nik")[0]
    assert a[0] != pseudonymise(values, b"k1", purpose="kk")[0]
    assert a[0] == pseudonymise(values, b"k1", purpose="nik")[0]
