"""Joining touching U-Net instances that are pieces of one cell (rule J, docs/detection.md)."""
import numpy as np
import pytest

from napari_cytoqa.detection.instances import FRAGMENT_DYNAMIC, contacts, feret_length, merge_fragments


def _disc(shape, cy, cx, r):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def test_contacts_and_their_length_by_hand():
    labels = np.zeros((12, 12), np.int32)
    labels[1:11, 1:6] = 1  # a 10-px vertical border between columns 5 and 6
    labels[1:11, 6:11] = 2
    labels[0, 0] = 3  # touches label 1 diagonally at one corner only: (0, 0)-(1, 1)
    pairs, borders = contacts(labels)
    assert pairs.tolist() == [[1, 2], [1, 3]]
    assert sorted(map(tuple, borders[1].tolist())) == [(0, 0), (1, 1)]
    assert set(borders[0][:, 1].tolist()) == {5, 6} and len(borders[0]) == 20
    assert feret_length(borders[0]) == pytest.approx(np.hypot(9, 1) + 1, rel=0.01)
    assert feret_length([[3, 4]]) == 1.0
    assert feret_length([[0, 0], [0, 9]]) == pytest.approx(10.0)


def test_a_cell_in_pieces_is_joined_touching_cells_stay_apart():
    shape = (60, 120)
    labels = np.zeros(shape, np.int32)
    cell = _disc(shape, 30, 25, 14)  # one cell cut in three by two parallel chords (border/width 1.8)
    xx = np.mgrid[: shape[0], : shape[1]][1]
    labels[cell & (xx < 20)] = 1
    labels[cell & (xx >= 20) & (xx < 30)] = 2
    labels[cell & (xx >= 30)] = 3
    a, b = _disc(shape, 30, 70, 12), _disc(shape, 30, 92, 12)  # two cells pressed together (centres 22 apart)
    labels[a] = 4
    labels[b & ~a] = 5
    before = labels.copy()
    out = merge_fragments(labels)
    assert np.array_equal(labels, before)  # the input is left as it was
    assert out.dtype == np.int32 and out.max() == 3
    assert len(np.unique(out[cell])) == 1 and out[cell].min() > 0
    assert out[30, 70] != out[30, 92] and out[30, 70] > 0 and out[30, 92] > 0
    assert np.array_equal(out > 0, labels > 0)  # no pixel gained or lost


def test_a_sliver_between_two_cells_does_not_chain_them():
    labels = np.zeros((30, 60), np.int32)
    labels[5:25, 5:25] = 1  # two square cells, 20 px a side
    labels[5:25, 33:53] = 2
    labels[5:25, 25:33] = 3  # a piece between them sharing a whole side with each (border/width 1.4)
    out = merge_fragments(labels)
    assert out.max() == 2 and out[15, 10] != out[15, 50]  # joined to one of them, never both into one
    assert out[15, 30] in (out[15, 10], out[15, 50])


def test_unet_instances_merge_option_and_detect_cells_validates_it():
    from napari_cytoqa import detect_cells
    from napari_cytoqa.detection.unet import instances_from_maps

    shape = (64, 64)
    fg = _disc(shape, 32, 32, 14).astype(float)
    centre = 0.2 * fg
    centre[_disc(shape, 32, 26, 4)] = 0.8  # two cores in one cell: the watershed cuts it in two
    centre[_disc(shape, 32, 38, 4)] = 0.8
    centre[28:37, 30:35] = 0.48  # joined by a ridge just under the core level (0.5)
    assert instances_from_maps(fg, centre).max() == 2
    assert instances_from_maps(fg, centre, merge=True).max() == 1
    centre[28:37, 30:35] = 0.3  # a valley between the cores: two touching cells after all
    assert instances_from_maps(fg, centre, merge=True).max() == 2
    with pytest.raises(ValueError, match="merge must be"):
        detect_cells(np.zeros((32, 32), np.uint8), detector="unet", merge="yes")


def test_two_weak_tops_of_one_centre_map_are_joined_with_dynamic_and_a_valley_is_not():
    labels = np.zeros((30, 80), np.int32)
    labels[5:25, 5:17] = 1  # one 20 x 24 cell cut down the middle: border/width 1.14, under 1.3 ...
    labels[5:25, 17:29] = 2
    labels[5:15, 40:60] = 3  # ... and two 10 x 20 cells sharing a 20-px border (border/width 1.25)
    labels[15:25, 40:60] = 4
    centre = np.zeros(labels.shape)
    centre[labels == 1], centre[labels == 2] = 0.55, 0.52  # weak tops, no dip at the cut (border max 0.52) ...
    centre[5:25, 16:18] = 0.44  # ... except a slight one, below the saddle test (0.45)
    centre[labels == 3], centre[labels == 4] = 0.9, 0.85  # confident tops with a valley between (border 0.3)
    centre[14:16, 40:60] = 0.3
    assert merge_fragments(labels, centre=centre, dynamic=None).max() == 4  # off: the J2 tests alone join nothing
    assert FRAGMENT_DYNAMIC == 0.1  # rule W's default, "auto"
    assert np.array_equal(merge_fragments(labels, centre=centre), merge_fragments(labels, centre=centre, dynamic=0.1))
    joined = merge_fragments(labels, centre=centre, dynamic=0.1)
    assert joined.max() == 3 and joined[15, 10] == joined[15, 25]  # 0.52 - 0.44 = 0.08 < 0.1
    assert joined[10, 50] != joined[20, 50]  # 0.85 - 0.3 = 0.55: two cells
    assert merge_fragments(labels, centre=centre, dynamic=0.05).max() == 4  # 0.08 >= 0.05
    assert merge_fragments(labels, centre=centre, dynamic=0.1, dynamic_ratio=1.5).max() == 4  # border too short
    assert merge_fragments(labels, dynamic=0.1).max() == 4  # without a centre map: the border test alone
