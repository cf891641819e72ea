"""The sorting of a detection run's mistakes against annotated cells, on hand-built cases."""
import numpy as np
import pytest

from napari_cytoqa.detection.errors import ErrorKinds, error_kinds, error_line, size_advice

# three annotated cells in a row, 20 px boxes, and one far away
TRUTH = np.array([[0, 0, 20, 20], [0, 40, 20, 60], [0, 80, 20, 100], [100, 100, 120, 120]], float)


def kinds(boxes, scores=None, **kw):
    boxes = np.asarray(boxes, float).reshape(-1, 4)
    return error_kinds(boxes, np.ones(len(boxes)) if scores is None else scores, **kw)


def test_perfect_run_has_no_mistakes():
    assert kinds(TRUTH, truth_boxes=TRUTH) == ErrorKinds()
    assert error_line(ErrorKinds()) == "no mistakes"


def test_each_kind_on_its_own():
    # cell 0 cut into two halves (neither matches at IoU 0.5): one split cell, nothing else wrong
    halves = [[0, 0, 20, 9], [0, 11, 20, 20]]
    assert kinds(halves + TRUTH[1:].tolist(), truth_boxes=TRUTH) == ErrorKinds(split=1)
    # cells 1 and 2 in one box: one merged box, and neither cell counts as missed
    assert kinds([TRUTH[0], [0, 40, 20, 100], TRUTH[3]], truth_boxes=TRUTH) == ErrorKinds(merged=1)
    # a detection on no cell
    assert kinds(TRUTH.tolist() + [[200, 200, 220, 220]], truth_boxes=TRUTH) == ErrorKinds(extra=1)
    # cell 3 not found
    assert kinds(TRUTH[:3], truth_boxes=TRUTH) == ErrorKinds(missed=1)
    # cell 3's only box is far too small: IoU 0.25, centred on the cell
    assert kinds(TRUTH[:3].tolist() + [[105, 105, 115, 115]], truth_boxes=TRUTH) == ErrorKinds(loose=1)


def test_a_found_cell_with_a_second_box_on_it_is_split():
    # cell 0 matched, and a fragment inside it: the cell is split (found twice), not an extra
    got = kinds(TRUTH.tolist() + [[2, 2, 8, 8]], [1, 1, 1, 1, 0.3], truth_boxes=TRUTH)
    assert got == ErrorKinds(split=1)


def test_mixed_run_and_line():
    boxes = [[0, 0, 20, 9], [0, 11, 20, 20],  # cell 0 split
             [0, 40, 20, 100],  # cells 1 and 2 merged
             [200, 200, 220, 220], [300, 300, 320, 320]]  # two extras; cell 3 missed
    got = kinds(boxes, truth_boxes=TRUTH)
    assert got == ErrorKinds(split=1, merged=1, extra=2, missed=1)
    assert error_line(got) == "1 cell split, 1 merged box, 2 extra, 1 missed"
    assert (got + got).as_dict() == {"split": 2, "merged": 2, "extra": 4, "missed": 2, "loose": 0}


def test_points_as_truth():
    pts = (TRUTH[:, :2] + TRUTH[:, 2:]) / 2  # the cells' centres
    assert kinds(TRUTH, points=pts) == ErrorKinds()
    boxes = [[0, 0, 20, 12], [0, 8, 20, 20],  # both hold cell 0's point (10, 10): split
             [0, 40, 20, 100],  # holds cells 1 and 2: merged
             [200, 200, 220, 220]]  # holds none: extra; cell 3 missed
    assert kinds(boxes, points=pts) == ErrorKinds(split=1, merged=1, extra=1, missed=1)


def test_empty_sides_and_bad_arguments():
    assert kinds(np.zeros((0, 4)), truth_boxes=TRUTH) == ErrorKinds(missed=4)
    assert kinds(TRUTH, truth_boxes=np.zeros((0, 4))) == ErrorKinds(extra=4)
    assert kinds(TRUTH, points=np.zeros((0, 2))) == ErrorKinds(extra=4)
    with pytest.raises(ValueError, match="either truth_boxes or points"):
        kinds(TRUTH)
    with pytest.raises(ValueError, match="one score"):
        error_kinds(TRUTH, [1.0], truth_boxes=TRUTH)


def test_size_advice_needs_one_kind_to_dominate():
    assert "larger" in size_advice(ErrorKinds(split=5, merged=1), 20)
    assert "smaller" in size_advice(ErrorKinds(split=1, merged=6), 20)
    assert size_advice(ErrorKinds(split=5, merged=4), 20) is None  # neither dominates
    assert size_advice(ErrorKinds(split=2), 20) is None  # too few to say
    assert size_advice(ErrorKinds(split=5), 100) is None  # under a tenth of the cells
