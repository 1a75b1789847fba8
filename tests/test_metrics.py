import numpy as np
import pytest

from edgeseg.bench.metrics import confusion, iou_per_class, miou


def test_perfect_prediction_is_100():
    t = np.array([[0, 1], [2, 2]])
    assert miou(confusion(t, t, num_classes=3)) == 100.0


def test_hand_built_case():
    truth = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    pred = np.array([0, 0, 0, 1, 1, 1, 0, 0])
    cm = confusion(pred, truth, num_classes=2)
    assert cm.tolist() == [[3, 1], [2, 2]]
    # class 0: tp 3, union 3+1+2 = 6 → 0.5; class 1: tp 2, union 2+2+1 = 5 → 0.4
    np.testing.assert_allclose(iou_per_class(cm), [0.5, 0.4])
    assert miou(cm) == pytest.approx(45.0)


def test_absent_classes_do_not_count_and_ignore_label_is_skipped():
    truth = np.array([0, 0, 255, 255])
    pred = np.array([0, 0, 3, 1])
    cm = confusion(pred, truth, num_classes=4)
    assert cm.sum() == 2
    assert miou(cm) == 100.0  # classes 1-3 never occur in truth or (kept) prediction


def test_false_positive_class_counts_as_zero():
    truth = np.array([0, 0, 0, 0])
    pred = np.array([0, 0, 0, 2])
    ious = iou_per_class(confusion(pred, truth, num_classes=3))
    assert ious[2] == 0.0 and np.isnan(ious[1])
    assert miou(confusion(pred, truth, num_classes=3)) == pytest.approx((0.75 + 0.0) / 2 * 100)


def test_shape_mismatch():
    with pytest.raises(ValueError):
        confusion(np.zeros((2, 2)), np.zeros((3, 2)), num_classes=2)
