"""The channel against rate-distortion theory: allocation, Berger test channel, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qbdi_musicology.channel import (
    ChannelOptions,
    ChannelResult,
    allocate_bits,
    transmit,
    transmit_many,
)
from qbdi_musicology.errors import ParameterError


def greedy_by_the_book(variances, n_bits):
    """The rule as written in the paper: a loop over bits, argmax ties -> lowest index."""
    current = np.array(variances, dtype=float)
    bits = np.zeros(current.size)
    for _ in range(n_bits):
        i = int(np.argmax(current))
        bits[i] += 1
        current[i] /= 4
    return bits


def water_filling_closed_form(variances, rate):
    """b_i = max(0, log2(s_i^2 / theta) / 2) with the water level theta found by bisection."""
    var = np.asarray(variances, dtype=float)
    positive = var[var > 0]
    lo, hi = math.log2(positive.min()) - 2 * rate - 2, math.log2(positive.max())
    for _ in range(200):
        mid = (lo + hi) / 2
        total = np.maximum(0.0, 0.5 * (np.log2(positive) - mid)).sum()
        lo, hi = (mid, hi) if total > rate else (lo, mid)
    log_theta = (lo + hi) / 2  # kept as a logarithm: theta itself may underflow
    with np.errstate(divide="ignore"):
        return np.where(var > 0, np.maximum(0.0, 0.5 * (np.log2(var) - log_theta)), 0.0)


def random_variances(rng, d):
    """Latent variances as a trained VAE shows them: a few large, many tiny, some zero."""
    var = rng.lognormal(mean=-3.0, sigma=2.0, size=d)
    var[rng.random(d) < 0.1] = 0.0
    var[0] = max(var[0], 1e-3)
    return var


# --- allocation -------------------------------------------------------------------------

def test_small_example_by_hand():
    # 4 -> 1 after the first bit; then dims 0 and 1 tie at 1 and the lowest index wins.
    assert allocate_bits([4, 1, 0.25], 2).tolist() == [2, 0, 0]
    # third bit to dim 1; all three stand at 0.25; half a bit to dim 0.
    assert allocate_bits([4, 1, 0.25], 3.5).tolist() == [2.5, 1, 0]
    assert allocate_bits([4, 1, 0.25], 0).tolist() == [0, 0, 0]


@pytest.mark.parametrize("seed", range(20))
def test_bits_sum_to_rate_and_match_the_greedy_loop(seed):
    rng = np.random.default_rng(seed)
    var = random_variances(rng, int(rng.integers(1, 60)))
    for rate in [0, 1, 7, 64, int(rng.integers(1, 400))]:
        bits = allocate_bits(var, rate)
        assert bits.sum() == rate
        np.testing.assert_array_equal(bits, greedy_by_the_book(var, rate))


def test_ties_break_towards_the_lowest_index():
    # Equal variances, and variances exactly 4x apart, are exact ties after dividing.
    assert allocate_bits([1, 1, 1, 1], 3).tolist() == [1, 1, 1, 0]
    assert allocate_bits([0.25, 1, 4], 3).tolist() == [0, 1, 2]
    assert allocate_bits([0.25, 1, 4], 4).tolist() == [1, 1, 2]


@pytest.mark.parametrize("seed", range(20))
def test_greedy_is_within_one_bit_of_closed_form_water_filling(seed):
    rng = np.random.default_rng(100 + seed)
    var = random_variances(rng, int(rng.integers(2, 200)))
    for rate in [1, 10, 100, 1000]:
        greedy = allocate_bits(var, rate)
        exact = water_filling_closed_form(var, rate)
        assert exact.sum() == pytest.approx(rate, rel=1e-9)
        assert np.max(np.abs(greedy - exact)) <= 1.0


@pytest.mark.parametrize("seed", range(10))
def test_more_rate_never_increases_any_distortion(seed):
    rng = np.random.default_rng(200 + seed)
    var = random_variances(rng, 50)
    rates = np.sort(np.concatenate([[0], rng.uniform(0, 300, size=40), [math.inf]]))
    previous = var.copy()
    for rate in rates:
        distortion = var * np.exp2(-2 * allocate_bits(var, rate))
        assert np.all(distortion <= previous)
        previous = distortion
    assert np.all(previous == 0)


def test_fractional_rate_moves_continuously_into_the_next_whole_bit():
    var = np.array([3.0, 2.0, 0.7, 0.1])
    for n in range(12):
        below, above = allocate_bits(var, n), allocate_bits(var, n + 1)
        half = allocate_bits(var, n + 0.5)
        almost = allocate_bits(var, n + 1 - 1e-12)
        assert half.sum() == pytest.approx(n + 0.5)
        # only the dimension that takes the next whole bit holds the partial bit
        grew = np.flatnonzero(above > below)
        assert grew.size == 1 and np.flatnonzero(half > below).tolist() == grew.tolist()
        np.testing.assert_allclose(almost, above, atol=1e-9)


def test_zero_variance_dimensions_get_no_bits():
    var = np.array([0.0, 0.5, 0.0, 0.01])
    bits = allocate_bits(var, 40)
    assert bits[0] == 0 and bits[2] == 0 and bits.sum() == 40
    # nothing varies: nothing worth sending, at any finite rate
    assert allocate_bits([0.0, 0.0], 17.5).tolist() == [0, 0]
    # infinite rate: every dimension is passed through, whatever its variance
    assert allocate_bits(var, math.inf).tolist() == [math.inf] * 4


def test_tiny_variances_and_huge_rates_do_not_underflow():
    # 4**-600 underflows a float; the exponent bookkeeping keeps the comparison exact.
    var = np.array([1e-300, 1.0, 1e-5])
    bits = allocate_bits(var, 5000)
    assert bits.sum() == 5000 and np.all(bits > 0)
    np.testing.assert_allclose(bits, water_filling_closed_form(var, 5000), atol=1.0)


def test_allocation_of_a_thousand_dimensions_spends_every_bit():
    # its speed is measured in bench/bench_channel.py, not here: a loaded machine must not
    # fail a correct change
    var = random_variances(np.random.default_rng(7), 1000)
    for rate in [8, 256, 4096, 10**6]:
        assert allocate_bits(var, rate).sum() == rate


@settings(max_examples=150, deadline=None)
@given(
    var=st.lists(st.one_of(st.just(0.0), st.floats(1e-12, 1e6)), min_size=1, max_size=40),
    r1=st.floats(0, 500),
    r2=st.floats(0, 500),
)
def test_allocation_invariants(var, r1, r2):
    var = np.array(var)
    lo, hi = sorted((r1, r2))
    b_lo, b_hi = allocate_bits(var, lo), allocate_bits(var, hi)
    assert np.all(b_lo >= 0) and np.all(b_hi >= b_lo)
    assert np.all(b_hi[var == 0] == 0)
    if np.any(var > 0):
        assert b_hi.sum() == pytest.approx(hi, abs=1e-9)
    n = int(hi)
    whole = allocate_bits(var, n)
    if np.any(var > 0) and n:
        # Optimality of the greedy set: every bit given was worth at least any bit withheld.
        taken = whole > 0
        worth_of_last_bit = var[taken] / 4.0 ** (whole[taken] - 1)
        worth_of_next_bit = var / 4.0 ** whole
        assert worth_of_last_bit.min() >= worth_of_next_bit.max()
    if n <= 200 and np.any(var > 0):  # the book loop spends bits on zeros; we do not
        np.testing.assert_array_equal(whole, greedy_by_the_book(var, n))


# --- the Berger test channel --------------------------------------------------------------

def _query(seed=0, n_bars=12, d=8):
    rng = np.random.default_rng(seed)
    scale = np.geomspace(2.0, 0.01, d)
    mu = rng.normal(size=(n_bars, d)) * scale + rng.normal(size=d)
    logvar = rng.normal(-2.0, 0.5, size=(n_bars, d))
    return mu, logvar


@pytest.mark.parametrize("options", [ChannelOptions(variance="prior", mean="prior"),
                                     ChannelOptions()])
def test_distortion_and_output_variance_match_theory(options):
    # z drawn from the source model N(m, s^2): prior model s^2 = 1, m = 0; or the
    # query model, where m and s^2 are the sample mean and variance across bars.
    rng = np.random.default_rng(11)
    d, n = 6, 200_000
    mu = rng.normal(size=(n, d))
    rate = 5.5
    result = transmit(mu, None, rate, seed=3, options=options)
    assert result.bits.sum() == rate
    s2, D = result.source_variance, result.distortion
    assert np.all(D > 0) and np.all(D < s2)
    err = result.z - result.z_hat
    np.testing.assert_allclose((err ** 2).mean(axis=0), D, rtol=0.03)
    np.testing.assert_allclose(result.z_hat.var(axis=0), s2 - D, rtol=0.03, atol=1e-3)
    np.testing.assert_allclose(result.z_hat.mean(axis=0), result.channel_mean[0], atol=0.02)
    # backward channel: the error is uncorrelated with what the decoder hears
    centred = result.z_hat - result.z_hat.mean(axis=0)
    cov = (err * centred).mean(axis=0)
    np.testing.assert_allclose(cov, 0.0, atol=0.01)


def test_expected_error_over_noise_equals_distortion_for_a_real_sized_query():
    # With the default options, averaging over the channel noise (many seeds) the mean
    # squared error across bars equals D_i exactly, for any query, even a short one.
    mu, logvar = _query(n_bars=16)
    errors = [((r.z - r.z_hat) ** 2).mean(axis=0)
              for r in (transmit(mu, logvar, 6, seed=s) for s in range(4000))]
    D = transmit(mu, logvar, 6).distortion
    active = D < transmit(mu, logvar, 6).source_variance
    np.testing.assert_allclose(np.mean(errors, axis=0)[active], D[active], rtol=0.06)


@pytest.mark.parametrize("mean", ["query", "posterior", "prior"])
@pytest.mark.parametrize("sample", [False, True])
def test_rate_zero_and_infinity_are_exact(mean, sample):
    mu, logvar = _query()
    options = ChannelOptions(mean=mean, sample=sample)
    zero, full = transmit_many(mu, logvar, [0, math.inf], seed=5, options=options)
    expected_mean = {"query": np.broadcast_to(mu.mean(axis=0), mu.shape),
                     "posterior": mu, "prior": np.zeros_like(mu)}[mean]
    np.testing.assert_array_equal(zero.z_hat, expected_mean)
    np.testing.assert_array_equal(full.z_hat, full.z)
    if not sample:
        np.testing.assert_array_equal(full.z_hat, mu)
    assert zero.active_dimensions == 0 and zero.relative_distortion == pytest.approx(1.0)
    assert full.total_distortion == 0 and full.active_dimensions == mu.shape[1]
    if mean == "query":
        # rate 0: every bar hears the same latent
        assert np.all(zero.z_hat == zero.z_hat[0])


def test_a_huge_finite_rate_is_lossless_too():
    mu, logvar = _query()
    np.testing.assert_array_equal(transmit(mu, logvar, 1e6).z_hat, mu)


def test_same_seed_same_output_and_many_equals_one_at_a_time():
    mu, logvar = _query()
    options = ChannelOptions(sample=True)
    a = transmit(mu, logvar, 20, seed=9, options=options)
    b = transmit(mu, logvar, 20, seed=9, options=options)
    c = transmit(mu, logvar, 20, seed=10, options=options)
    assert a.z_hat.tobytes() == b.z_hat.tobytes() and a.z.tobytes() == b.z.tobytes()
    assert not np.array_equal(a.z_hat, c.z_hat)
    many = transmit_many(mu, logvar, [0, 20, 3.25, math.inf], seed=9, options=options)
    assert many[1].z_hat.tobytes() == a.z_hat.tobytes()
    assert [r.rate_bits for r in many] == [0, 20, 3.25, math.inf]
    # one sampled z for all rates: the comparison across rates is paired
    assert all(np.array_equal(r.z, a.z) for r in many)


def test_variance_options():
    mu, logvar = _query()
    assert np.allclose(transmit(mu, logvar, 8).source_variance, mu.var(axis=0))
    post = transmit(mu, logvar, 8, options=ChannelOptions(variance="posterior"))
    assert np.allclose(post.source_variance, np.exp(logvar).mean(axis=0))
    prior = transmit(mu, logvar, 8, options=ChannelOptions(variance="prior"))
    assert prior.source_variance.tolist() == [1.0] * mu.shape[1]
    # prior variance: 8 bits spread evenly over the 8 dimensions
    assert prior.bits.tolist() == [1.0] * 8
    # query variance: the bits go to the dimensions that change most across the bars
    query = transmit(mu, logvar, 8)
    assert query.bits[0] >= query.bits[-1] and query.bits[0] > 0


def test_posterior_mean_without_sampling_only_adds_noise():
    mu, logvar = _query()
    result = transmit(mu, logvar, 4, seed=2, options=ChannelOptions(mean="posterior"))
    lost = np.exp2(-2 * result.bits)
    spread = np.sqrt(lost * (1 - lost) * result.source_variance)
    # z_hat - mu is pure channel noise, scaled per dimension
    noise = (result.z_hat - mu)[:, spread > 0] / spread[spread > 0]
    rng = np.random.default_rng(2)
    np.testing.assert_allclose(noise, rng.standard_normal(mu.shape)[:, spread > 0])


def test_one_bar_query_has_nothing_to_transmit():
    mu, logvar = _query(n_bars=1)
    result = transmit(mu, logvar, 64)
    assert result.used_bits == 0 and result.active_dimensions == 0
    np.testing.assert_array_equal(result.z_hat, mu)


def test_record_for_the_csv():
    mu, logvar = _query()
    records = [r.to_record() for r in transmit_many(mu, logvar, [0, 8, 64, math.inf])]
    assert [r["rate_bits"] for r in records] == [0, 8, 64, math.inf]
    dist = [r["mean_distortion"] for r in records]
    assert dist == sorted(dist, reverse=True) and dist[-1] == 0
    assert records[0]["relative_distortion"] == pytest.approx(1.0)
    assert records[1]["dims_with_bits"] >= 1 and records[1]["variance_option"] == "query"
    assert isinstance(transmit(mu, logvar, 1), ChannelResult)


# --- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [-1, -0.5, float("nan"), "8", None, True, 1e300])
def test_bad_rates(rate):
    with pytest.raises(ParameterError, match="rate"):
        allocate_bits([1.0, 2.0], rate)
    mu, logvar = _query()
    with pytest.raises(ParameterError, match="rate"):
        transmit(mu, logvar, rate)


def test_empty_rate_list():
    mu, logvar = _query()
    with pytest.raises(ParameterError, match="empty"):
        transmit_many(mu, logvar, [])
    with pytest.raises(ParameterError, match=">= 0"):
        transmit_many(mu, logvar, [8, -1])


@pytest.mark.parametrize("var, words", [
    ([1.0, float("nan")], "dimension 1"),
    ([1.0, -0.5], "-0.5"),
    ([1.0, math.inf], "finite"),
    ([], "non-empty"),
    ([[1.0, 2.0]], "1-D"),
])
def test_bad_variances(var, words):
    with pytest.raises(ParameterError, match=words):
        allocate_bits(var, 4)


def test_bad_latents_and_options():
    mu, logvar = _query()
    with pytest.raises(ParameterError, match="shape"):
        transmit(mu, logvar[:, :3], 8)
    with pytest.raises(ParameterError, match="shape"):
        transmit(mu[0], logvar[0], 8)
    bad = mu.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ParameterError, match="bar 4, latent dimension 2"):
        transmit(bad, logvar, 8)
    with pytest.raises(ParameterError, match="logvar"):
        transmit(mu, None, 8, options=ChannelOptions(sample=True))
    with pytest.raises(ParameterError, match="seed"):
        transmit(mu, logvar, 8, seed=-1)
    with pytest.raises(ParameterError, match="query, posterior, prior"):
        ChannelOptions(variance="notebook")
    with pytest.raises(ParameterError, match="query, posterior, prior"):
        ChannelOptions(mean="zero")
    with pytest.raises(ParameterError, match="True or False"):
        ChannelOptions(sample="yes")


@settings(max_examples=80, deadline=None)
@given(
    n_bars=st.integers(1, 12),
    d=st.integers(1, 10),
    rate=st.one_of(st.floats(0, 200), st.just(math.inf)),
    seed=st.integers(0, 2**31),
    variance=st.sampled_from(["query", "posterior", "prior"]),
    mean=st.sampled_from(["query", "posterior", "prior"]),
    sample=st.booleans(),
)
def test_channel_invariants(n_bars, d, rate, seed, variance, mean, sample):
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(n_bars, d)) * rng.uniform(0, 3, size=d)
    logvar = rng.uniform(-6, 1, size=(n_bars, d))
    options = ChannelOptions(variance=variance, mean=mean, sample=sample)
    result = transmit(mu, logvar, rate, seed=seed, options=options)
    assert np.all(np.isfinite(result.z_hat))
    if math.isinf(rate):
        np.testing.assert_array_equal(result.z_hat, result.z)
        return
    if np.any(result.source_variance > 0):
        assert result.used_bits == pytest.approx(rate, abs=1e-9)
    np.testing.assert_allclose(result.distortion,
                               result.source_variance * np.exp2(-2 * result.bits))
    assert np.all(result.distortion <= result.source_variance)
    silent = result.bits == 0
    np.testing.assert_array_equal(result.z_hat[:, silent], result.channel_mean[:, silent])
    assert 0 <= result.relative_distortion <= 1
