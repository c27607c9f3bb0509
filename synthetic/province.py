"""``generate_province``: several kab/kota, with people registered in one and living in another.

Each region is generated as ``generate`` does (its own seed), into one landing folder. Then a
share of each region's voters *move*: their KPU row (and their BPS row, where they have one)
leaves the extracts of the region where they are registered and joins those of the next
region in the list, at the address of a resident there (kecamatan, kelurahan, TPS,
neighbourhood); a quarter of the moved voter rows get one NIK digit mistyped and a quarter
of the moved BPS rows no NIK. The civil registry keeps them where they were registered.
That is what a per-region linkage cannot see and the cross-region pass must find.

The truth covers the province: person ids are ``<region>:<person>``, row numbers follow the
rewritten files, and ``planted.csv`` gains the kind ``registered_elsewhere`` for every moved
row (its region's file and row, and the person).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from synthetic.generator import generate
from synthetic.writers import write_csv

MOVED = "registered_elsewhere"
#: Columns of a KPU row that say where the voter is listed (docs/input-formats.md).
KPU_ADDRESS = ["KECAMATAN", "KELURAHAN", "TPS", "ALAMAT", "RT", "RW"]
#: Columns of a BPS row that say where the person was enumerated.
BPS_ADDRESS = ["R101", "R102", "R103", "R104", "R105", "R109", "R110"]


@dataclass(frozen=True)
class ProvinceSummary:
    landing: Path
    truth_path: Path
    planted_path: Path
    regions: list[str]
    persons: int
    moved_rows: int


_NIK = {"kpu": "NIK", "bps": "R403"}
#: BPS placeholder for "no NIK, 17 or older" (docs/input-formats.md).
_NO_NIK = "9999999999999996"


def _blur(rng: np.random.Generator, niks: np.ndarray, source: str) -> np.ndarray:
    """What the receiving region's clerks write: a quarter of the KPU NIKs with one serial
    digit mistyped, a quarter of the BPS rows without a NIK."""
    out = niks.copy()
    pick = rng.random(len(out)) < 0.25
    for i in np.flatnonzero(pick):
        nik = str(out[i])
        if source == "bps":
            out[i] = _NO_NIK
        elif len(nik) == 16 and nik.isdigit():
            position = 12 + int(rng.integers(0, 4))
            digit = str((int(nik[position]) + 1 + int(rng.integers(0, 9))) % 10)
            out[i] = nik[:position] + digit + nik[position + 1 :]
    return out


def _read(path: Path, sep: str) -> pd.DataFrame:
    return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)


def _table(frame: pd.DataFrame, region: str, truth: pd.DataFrame) -> pd.DataFrame:
    """Truth rows of one file, aligned to its data rows, with province-wide person ids."""
    rows = truth.sort_values("row")
    if len(rows) != len(frame):
        raise ValueError(f"truth of {region} does not cover its file")
    return rows.assign(person_id=region + ":" + rows["person_id"]).reset_index(drop=True)


#: region -> source ("kpu", "bps"; "dukcapil" too for truths) -> rows
_BySource = dict[str, dict[str, pd.DataFrame]]


@dataclass
class _RegionFiles:
    """One region's generated extracts as read back, with the truth aligned to their rows."""

    paths: dict[str, Path]  # "dukcapil", "kpu", "bps" -> extract file
    tables: dict[str, pd.DataFrame]  # "kpu", "bps" -> the file's rows, as text
    truths: dict[str, pd.DataFrame]  # "dukcapil", "kpu", "bps" -> truth rows of the file
    planted: pd.DataFrame
    persons: int


def generate_province(
    *,
    regions: list[str],
    people: int,
    out: Path,
    seed: int = 1,
    moved_share: float = 0.01,
    snapshot: date = date(2026, 11, 1),
) -> ProvinceSummary:
    """Write the extracts of ``people`` residents for each kab/kota of ``regions`` into
    ``out / "landing"``, the province truth to ``out / "truth.csv"`` and the planted problems
    to ``out / "planted.csv"``; ``moved_share`` of each region's voters move to the next one."""
    if len(regions) < 2:
        raise ValueError("a province needs at least two regions")
    out = Path(out)
    landing = out / "landing"
    rng = np.random.default_rng(seed)
    generated = {
        region: _generate_region(
            region, people, seed + 1000 * i, landing, out / "work" / region, snapshot
        )
        for i, region in enumerate(regions)
    }
    moving = _choose_movers(rng, regions, generated, moved_share)
    new_tables, new_truths, renumber, moved_rows = _move_rows(rng, regions, generated, moving)
    truth_parts, planted_rows = _write_regions(regions, generated, new_tables, new_truths, moving)

    truth_all = pd.concat(truth_parts, ignore_index=True)
    truth_path, planted_path = out / "truth.csv", out / "planted.csv"
    truth_all.to_csv(truth_path, index=False)
    planted_parts = [generated[region].planted for region in regions]
    moved_planted = pd.concat(planted_rows, ignore_index=True).assign(
        row=lambda t: t["row"].astype(str)
    )
    planted_all = pd.concat([*_renumber_planted(planted_parts, renumber), moved_planted],
                            ignore_index=True)  # fmt: skip
    planted_all[["kind", "file", "row", "person_id"]].to_csv(planted_path, index=False)
    persons = sum(generated[region].persons for region in regions)
    return ProvinceSummary(landing, truth_path, planted_path, list(regions), persons, moved_rows)


def _generate_region(
    region: str, people: int, seed: int, landing: Path, work: Path, snapshot: date
) -> _RegionFiles:
    """Generate one region into ``landing`` (its truth into ``work``) and read it back."""
    summary = generate(region=region, people=people, seed=seed, out=landing,
                       snapshot=snapshot, truth=work / "truth.csv")  # fmt: skip
    truth = pd.read_csv(summary.truth_path, dtype={"person_id": str, "file": str})
    tables = {
        "kpu": _read(summary.paths["kpu"], ","),
        "bps": _read(summary.paths["bps"], ","),
    }
    truths = {
        source: _table(tables[source], region, truth[truth["file"] == summary.paths[source].name])
        for source in ("kpu", "bps")
    }
    registry = truth[truth["file"] == summary.paths["dukcapil"].name]
    truths["dukcapil"] = registry.assign(person_id=region + ":" + registry["person_id"])
    planted = pd.read_csv(summary.planted_path, dtype=str, keep_default_na=False)
    planted["person_id"] = region + ":" + planted["person_id"]
    return _RegionFiles(summary.paths, tables, truths, planted, summary.persons)


def _choose_movers(
    rng: np.random.Generator,
    regions: list[str],
    generated: dict[str, _RegionFiles],
    moved_share: float,
) -> dict[str, set[str]]:
    """Per region, the voters who move: registered persons none of whose rows is planted."""
    registered = {
        person
        for region in regions
        for person in generated[region].truths["dukcapil"]["person_id"].tolist()
    }
    already_planted = set(pd.concat([generated[r].planted for r in regions])["person_id"])
    moving: dict[str, set[str]] = {}
    for region in regions:
        voters = generated[region].truths["kpu"]["person_id"]
        candidates = voters[voters.isin(registered) & ~voters.isin(already_planted)].unique()
        count = int(round(moved_share * len(voters)))
        moving[region] = set(rng.choice(np.sort(candidates), size=min(count, len(candidates)),
                                        replace=False).tolist())  # fmt: skip
    return moving


def _move_rows(
    rng: np.random.Generator,
    regions: list[str],
    generated: dict[str, _RegionFiles],
    moving: dict[str, set[str]],
) -> tuple[_BySource, _BySource, dict[str, np.ndarray], int]:
    """Move the movers' KPU and BPS rows to the next region, at a resident's address there.

    Returns the new tables and truths per region and source, the renumbering of each file
    (file name -> new row number of each old row, 0 when it left) and the number of rows moved.
    """
    moved_rows = 0
    renumber: dict[str, np.ndarray] = {}
    new_tables = {r: dict(generated[r].tables) for r in regions}
    new_truths = {r: dict(generated[r].truths) for r in regions}
    for i, region in enumerate(regions):
        target = regions[(i + 1) % len(regions)]
        for source, address in (("kpu", KPU_ADDRESS), ("bps", BPS_ADDRESS)):
            table, truth = new_tables[region][source], new_truths[region][source]
            leaving = truth["person_id"].isin(moving[region]).to_numpy()
            renumber[generated[region].paths[source].name] = np.where(
                leaving, 0, np.cumsum(~leaving)
            )
            rows = table[leaving].copy()
            hosts = generated[target].tables[source].sample(n=len(rows), replace=True,
                                                            random_state=rng)  # fmt: skip
            rows[address] = hosts[address].to_numpy()
            rows[_NIK[source]] = _blur(rng, rows[_NIK[source]].to_numpy(), source)
            new_tables[region][source] = table[~leaving].reset_index(drop=True)
            new_truths[region][source] = truth[~leaving].reset_index(drop=True)
            new_tables[target][source] = pd.concat([new_tables[target][source], rows],
                                                   ignore_index=True)  # fmt: skip
            new_truths[target][source] = pd.concat([new_truths[target][source], truth[leaving]],
                                                   ignore_index=True)  # fmt: skip
            moved_rows += int(leaving.sum())
    return new_tables, new_truths, renumber, moved_rows


def _write_regions(
    regions: list[str],
    generated: dict[str, _RegionFiles],
    new_tables: _BySource,
    new_truths: _BySource,
    moving: dict[str, set[str]],
) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """Rewrite each region's KPU and BPS files; return their truth rows (and the registry's)
    and the planted rows of the voters who moved in."""
    everyone_moving = set().union(*moving.values())
    truth_parts, planted_rows = [], []
    for region in regions:
        for source, sep in (("kpu", ","), ("bps", ",")):
            path = generated[region].paths[source]
            write_csv(new_tables[region][source], path, sep=sep)
            truth = new_truths[region][source].assign(
                file=path.name, row=np.arange(1, len(new_truths[region][source]) + 1)
            )
            truth_parts.append(truth[["file", "row", "person_id"]])
            moved = truth[truth["person_id"].isin(everyone_moving)]
            moved = moved[~moved["person_id"].isin(moving[region])]
            planted_rows.append(moved.assign(kind=MOVED))
        truth_parts.append(generated[region].truths["dukcapil"][["file", "row", "person_id"]])
    return truth_parts, planted_rows


def _renumber_planted(
    planted_parts: list[pd.DataFrame], renumber: dict[str, np.ndarray]
) -> list[pd.DataFrame]:
    """The regions' own planted rows (never a moved person's) follow their file's renumbering."""
    renumbered = []
    for planted in planted_parts:
        row = pd.to_numeric(planted["row"], errors="coerce")
        for name, mapping in renumber.items():
            here = (planted["file"] == name).to_numpy() & row.notna().to_numpy()
            row[here] = mapping[row[here].astype(int).to_numpy() - 1]
        renumbered.append(planted.assign(row=row.astype("Int64").astype(str).replace("<NA>", "")))
    return renumbered
