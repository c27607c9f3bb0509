"""Occupation (SIAK JENIS_PKRJN) and education (PDDK_AKH) of persons.

Adults' occupations are drawn by sex, then adjusted by age (children, pupils and students,
pensioners); education is drawn by birth cohort, raised for occupations that require it, and
follows the school stage for the young.
"""

from __future__ import annotations

import numpy as np

from synthetic.households import weighted_choice

# Occupation codes (SIAK JENIS_PKRJN) and weights for adults, by sex.
_JOBS = np.array([1, 2, 4, 5, 6, 7, 8, 9, 11, 13, 14, 15, 16, 18, 19, 88, 89])
_JOB_WEIGHTS = {
    1: [
        0.05,
        0,
        0,
        0.045,
        0.008,
        0.007,
        0.06,
        0.22,
        0.01,
        0.03,
        0.03,
        0.18,
        0.01,
        0.02,
        0.12,
        0.17,
        0.02,
    ],
    2: [0.06, 0.45, 0, 0.04, 0.0005, 0.0015, 0.07, 0.1, 0, 0, 0, 0.1, 0.005, 0.03, 0.03, 0.1, 0.01],
}
# Education (PDDK_AKH 1..10) for adults by cohort: born before 1970 / after.
_EDU_WEIGHTS = {
    "old": [0.12, 0.2, 0.35, 0.12, 0.14, 0.01, 0.02, 0.035, 0.004, 0.001],
    "young": [0.02, 0.05, 0.2, 0.2, 0.35, 0.01, 0.04, 0.11, 0.018, 0.002],
}


def draw_occupation(rng: np.random.Generator, age: np.ndarray, sex: np.ndarray) -> np.ndarray:
    """JENIS_PKRJN of each person, given completed age and sex."""
    n = len(age)
    job = np.ones(n, dtype=int)
    for code in (1, 2):
        m = sex == code
        job[m] = weighted_choice(rng, _JOBS, _JOB_WEIGHTS[code], m.sum())
    u = rng.random(n)
    job = np.where(age < 5, 1, job)
    job = np.where((age >= 5) & (age < 18), np.where(u < 0.95, 3, 1), job)
    job = np.where((age >= 18) & (age < 23) & (u < 0.45), 3, job)
    retired = (age >= 58) & np.isin(job, [5, 6, 7])
    job = np.where(retired, 4, job)
    job = np.where((age >= 60) & (u < 0.25), 4, job)
    return np.where((age >= 65) & (u >= 0.25) & (u < 0.6), 1, job)


def draw_education(
    rng: np.random.Generator, age: np.ndarray, birth_year: np.ndarray, job: np.ndarray
) -> np.ndarray:
    """PDDK_AKH of each person, given age, birth year and the occupation drawn for them."""
    n = len(age)
    edu = np.where(
        birth_year < 1970,
        weighted_choice(rng, np.arange(1, 11), _EDU_WEIGHTS["old"], n),
        weighted_choice(rng, np.arange(1, 11), _EDU_WEIGHTS["young"], n),
    )
    edu = np.where(np.isin(job, [5, 6, 7]), np.maximum(edu, 5), edu)
    edu = np.where(job == 5, np.where(rng.random(n) < 0.6, np.maximum(edu, 8), edu), edu)
    child = np.select([age < 5, age < 13, age < 16, age < 19], [1, 2, 3, 4], 0)
    return np.where(child > 0, child, edu)
