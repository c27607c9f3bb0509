import pandas as pd

from matching.evaluation import accuracy


def test_accuracy_counts_pairs_and_exact_clusters():
    labelled = pd.DataFrame(
        {
            "person_id": ["a", "a", "a", "b", "b", "c"],
            "resident_id": ["1", "1", "2", "3", "3", "3"],
        }
    )
    acc = accuracy(labelled)
    # true pairs: a:3, b:1 -> 4; predicted: r1:1, r3:3 -> 4; correct: (a,1):1, (b,3):1 -> 2
    assert (acc.true_pairs, acc.predicted_pairs, acc.correct_pairs) == (4, 4, 2)
    assert acc.precision == 0.5 and acc.recall == 0.5 and acc.f1 == 0.5
    assert acc.persons == 3 and acc.persons_exact == 0


def test_perfect_linkage():
    labelled = pd.DataFrame({"person_id": ["a", "a", "b"], "resident_id": ["x", "x", "y"]})
    acc = accuracy(labelled)
    assert acc.f1 == 1.0 and acc.exact_share == 1.0
