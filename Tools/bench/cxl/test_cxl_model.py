"""Tests of the CXL estimate's model arithmetic (Tools/bench/cxl/model.py) and its
target rule; no Valgrind, no interpreter session. Each expected figure is worked out
by hand in the comments."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

import model  # noqa: E402

P = model.PAGE_SIZE


def chunks_two_pages():
    # Page 0: object 0 (64 B, 900 accesses), residual 100 accesses.
    # Page 1: object 1 (64 B, 10 accesses), residual 90 accesses.
    # Page 2: no objects, 500 accesses.
    pages = {0: 1000, P: 100, 2 * P: 500}
    keyed = [(0, 0, 64, 900), (1, P, 64, 10)]
    return model.make_chunks(pages, keyed)


def test_split_range_cuts_at_page_boundaries():
    assert model.split_range(P - 16, 48) == [(0, P - 16, 16), (P, P, 32)]
    assert model.split_range(32, 16) == [(0, 32, 16)]
    assert model.split_range(0, 2 * P + 1) == [(0, 0, P), (P, P, P), (2 * P, 2 * P, 1)]


def test_make_chunks_residual_and_untouched_pages():
    ch = model.make_chunks({0: 10, P: 0}, [(0, 0, 64, 4), (1, P, 64, 0)])
    # Page P is untouched: its zero-access object is dropped; page 0 keeps a residual.
    assert [(c.page, c.bytes, c.accesses, c.key) for c in ch] == [
        (0, 64, 4, 0), (0, P - 64, 6, None)]
    assert model.footprint(ch) == 1


def test_make_chunks_rejects_inconsistent_inputs():
    with pytest.raises(ValueError):
        model.make_chunks({0: 3}, [(0, 0, 64, 4)])          # more than the page
    with pytest.raises(ValueError):
        model.make_chunks({0: 3}, [(0, P, 64, 1)])          # accesses off the heap


def test_budget_pages():
    assert model.budget_pages(8, 0.125) == 1
    assert model.budget_pages(10, 0.25) == 2          # round(2.5) -> 2 (banker's)
    assert model.budget_pages(3, 0.125) == 1          # at least one page
    assert model.budget_pages(0, 0.5) == 0


def test_all_dram_and_all_cxl():
    ch = chunks_two_pages()
    assert model.slowdown(ch, [True] * len(ch), 3) == 1.0
    assert model.slowdown(ch, [False] * len(ch), 3) == pytest.approx(3.0)
    assert model.slowdown(ch, [False] * len(ch), 2) == pytest.approx(2.0)


def test_page_oracle_picks_hottest_pages():
    ch = chunks_two_pages()
    # Totals: page 0 -> 1000, page 2 -> 500, page 1 -> 100; total 1600.
    fast = model.page_oracle(ch, 1)
    # Only page 0 in DRAM: 600 accesses in CXL: 1 + (L-1) * 600/1600.
    assert model.slowdown(ch, fast, 2) == pytest.approx(1 + 600 / 1600)
    assert model.slowdown(ch, fast, 3) == pytest.approx(1 + 2 * 600 / 1600)
    fast2 = model.page_oracle(ch, 2)
    assert model.slowdown(ch, fast2, 2) == pytest.approx(1 + 100 / 1600)


def test_first_touch_is_address_order_or_given_order():
    ch = chunks_two_pages()
    # Ascending address: page 0 first.
    assert model.slowdown(ch, model.first_touch(ch, 1), 2) == pytest.approx(1 + 600 / 1600)
    # Order page 1 first: 1500 accesses in CXL.
    fast = model.first_touch(ch, 1, order=[P, 0, 2 * P])
    assert model.slowdown(ch, fast, 2) == pytest.approx(1 + 1500 / 1600)


def test_object_ideal_beats_pages_when_hot_objects_are_scattered():
    # 4 pages, each: one hot 64-byte object (1000 accesses) + a cold residual (10).
    pages = {i * P: 1010 for i in range(4)}
    keyed = [(i, i * P, 64, 1000) for i in range(4)]
    ch = model.make_chunks(pages, keyed)
    # Page oracle with one page: 3 * 1010 of 4040 accesses in CXL.
    po = model.slowdown(ch, model.page_oracle(ch, 1), 2)
    assert po == pytest.approx(1 + 3030 / 4040)
    # Ideal: all four hot objects (256 B) plus the densest residual chunk that still
    # fits (none: each is 4032 B and 4096 - 256 < 4032) -> 40 accesses in CXL.
    fast = model.object_ideal(ch, 1)
    assert model.dram_bytes(ch, fast) == 256
    assert model.slowdown(ch, fast, 2) == pytest.approx(1 + 40 / 4040)


def test_ranked_in_ideal_uses_the_given_ranking_for_objects_only():
    keyed = [(i, i * P, 64, 1000 - i) for i in range(4)]   # object i: 1000 - i
    pages = {i * P: 1000 - i + 10 for i in range(4)}
    ch = model.make_chunks(pages, keyed)
    ideal = model.object_ideal(ch, 1)
    # The ideal's DRAM holds the 4 objects (256 B); a ranking that puts them in any
    # order takes the same 4 (they all fit): same cost as the ideal.
    same = model.ranked_in_ideal(ch, 1, {0: 0.1, 1: 0.4, 2: 0.3, 3: 0.2})
    assert same == ideal
    # Packing the objects alone into 128 bytes: the ranking decides which two.
    taken, used = model.pack_keyed_by_score(ch, {0: 0.1, 1: 0.4, 2: 0.3, 3: None}, 128)
    assert used == 128
    assert {ch[i].key for i in taken} == {1, 2}
    # None ranks below every score; ties go to the lower key.
    taken, _ = model.pack_keyed_by_score(ch, {0: None, 1: 0.5, 2: 0.5, 3: None}, 192)
    assert {ch[i].key for i in taken} == {1, 2, 0}


def test_ranked_in_ideal_wrong_ranking_costs_more():
    # Budget 1 page; 100 objects of 64 B on two pages (50 each), object k has k
    # accesses; residual 0 accesses. The ideal fits 64 objects: the hottest 64.
    pages = {0: sum(range(50)), P: sum(range(50, 100))}
    keyed = [(k, 0 if k < 50 else P, 64, k) for k in range(100)]
    ch = model.make_chunks(pages, keyed)
    ideal = model.object_ideal(ch, 1)
    good = model.ranked_in_ideal(ch, 1, {k: float(k) for k in range(100)})
    bad = model.ranked_in_ideal(ch, 1, {k: float(-k) for k in range(100)})
    total = sum(range(100))
    # Ideal / good: objects 36..99 in DRAM (64 of them), 0..35 in CXL.
    assert model.slowdown(ch, ideal, 2) == pytest.approx(1 + sum(range(36)) / total)
    assert good == ideal
    # Bad: objects 0..63 in DRAM, 64..99 in CXL.
    assert model.slowdown(ch, bad, 2) == pytest.approx(1 + sum(range(64, 100)) / total)


def test_keyed_fixed_gives_the_rest_to_the_densest_residual():
    ch = chunks_two_pages()
    # Budget 1 page = 4096 B. Pypper put object 1 (the cold one) in DRAM: 64 B; the
    # remaining 4032 B take residual chunks by density: page 0's residual
    # (100/4032) fits exactly; page 2's (500/4096) is denser but does not fit.
    fast, used, over = model.keyed_fixed(ch, 1, [1])
    assert used == 64 and not over
    in_dram = {(c.page, c.key) for c, f in zip(ch, fast) if f}
    assert in_dram == {(P, 1), (0, None)}
    # CXL: object 0 (900) + page 1 residual (90) + page 2 (500) = 1490 of 1600.
    assert model.slowdown(ch, fast, 2) == pytest.approx(1 + 1490 / 1600)
    _, _, over = model.keyed_fixed(ch, 0, [0])
    assert over


def test_memory_bound_scaling():
    assert model.memory_bound(1.5, 1.0) == 1.5
    assert model.memory_bound(1.5, 0.0) == 1.0
    assert model.memory_bound(1.5, 0.4) == pytest.approx(1.2)
    with pytest.raises(ValueError):
        model.memory_bound(1.5, 1.5)


def test_segregation_rule():
    import importlib
    sys.path.insert(0, os.path.dirname(HERE))
    est = importlib.import_module("cxl_estimate")
    # Page oracle 1.10 (excess 0.10): the ideal must gain >= 0.01 and >= 0.002.
    assert est.segregation_helps(1.089, 1.10)
    assert not est.segregation_helps(1.095, 1.10)
    # Tiny excess: the absolute floor decides.
    assert not est.segregation_helps(1.0001, 1.001)
