"""Accuracy figures: Spearman rank correlation, top-fraction recall and capture, and
the page-level scores of the page oracle baseline.

The figures take two equally long sequences indexed by object key (registry index).
"""

import math


def average_ranks(values):
    """1-based ranks of values; tied values all get the average of the ranks they
    span (the 'fractional ranking' Spearman's rho needs)."""
    n = len(values)
    order = sorted(range(n), key=values.__getitem__)
    ranks = [0.0] * n
    i = 0
    while i < n:
        j = i
        v = values[order[i]]
        while j + 1 < n and values[order[j + 1]] == v:
            j += 1
        avg = (i + j) / 2.0 + 1.0
        for k in range(i, j + 1):
            ranks[order[k]] = avg
        i = j + 1
    return ranks


def pearson(x, y):
    """Pearson correlation, or None when either side is constant (undefined)."""
    n = len(x)
    if n != len(y):
        raise ValueError("length mismatch: %d != %d" % (n, len(y)))
    if n < 2:
        return None
    mx = math.fsum(x) / n
    my = math.fsum(y) / n
    sxy = math.fsum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = math.fsum((a - mx) ** 2 for a in x)
    syy = math.fsum((b - my) ** 2 for b in y)
    if sxx <= 0.0 or syy <= 0.0:
        return None
    r = sxy / math.sqrt(sxx * syy)
    return max(-1.0, min(1.0, r))


def spearman(x, y):
    """Spearman's rho with average ranks for ties (Pearson of the rank vectors);
    None when undefined (fewer than 2 values, or one side constant)."""
    if len(x) != len(y):
        raise ValueError("length mismatch: %d != %d" % (len(x), len(y)))
    return pearson(average_ranks(x), average_ranks(y))


def top_keys(scores, k):
    """The k keys (indices) with the highest scores; ties broken by the lower key,
    so the result is deterministic."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return set(order[:k])


def top_count(n, fraction):
    """How many objects 'the hottest fraction' of n objects is (at least 1)."""
    return max(1, int(round(n * fraction)))


def recall(truth, scores, fraction=0.10):
    """Share of the truth's hottest `fraction` of keys that are also among the
    scores' hottest `fraction` (both sets of the same size k, ties broken by the
    lower key)."""
    if len(truth) != len(scores):
        raise ValueError("length mismatch: %d != %d" % (len(truth), len(scores)))
    if not truth:
        return None
    k = top_count(len(truth), fraction)
    return len(top_keys(truth, k) & top_keys(scores, k)) / k


def capture(truth, scores, fraction=0.10):
    """Truth mass of the scores' hottest `fraction` of keys over the truth mass of the
    truth's own hottest `fraction` (both k = top_count() keys, ties broken by the
    lower key): 1.0 when the estimator's pick holds as many accesses as the best pick.
    None when the truth is empty or its top holds no mass (nothing to capture)."""
    if len(truth) != len(scores):
        raise ValueError("length mismatch: %d != %d" % (len(truth), len(scores)))
    if not truth:
        return None
    k = top_count(len(truth), fraction)
    best = math.fsum(truth[i] for i in top_keys(truth, k))
    if best <= 0:
        return None
    return math.fsum(truth[i] for i in top_keys(scores, k)) / best


def page_scores(ranges, page_counts, page_size=4096):
    """Each object's score under the page oracle: the sum of page_counts (a mapping
    {page start address: accesses}) over the pages its block [start, start + length)
    overlaps. ranges: (start, length) per object, in key order."""
    out = []
    for start, length in ranges:
        first = start - start % page_size
        last = start + max(1, length) - 1
        total = 0
        page = first
        while page <= last:
            total += page_counts.get(page, 0)
            page += page_size
        out.append(total)
    return out


def median(values):
    """Median of the values that are not None (None when there are none)."""
    v = sorted(x for x in values if x is not None)
    if not v:
        return None
    m = len(v) // 2
    return v[m] if len(v) % 2 else (v[m - 1] + v[m]) / 2.0


def median_spearman(values):
    """Median of per-run Spearman figures where an undefined one (None: every
    temperature equal, no ranking at all) counts as 0; None only when all are."""
    if all(x is None for x in values):
        return None
    return median([0.0 if x is None else x for x in values])
