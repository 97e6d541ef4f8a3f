"""The rate-limited noisy channel between the encoder and the decoder.

Each bar of a query is encoded to a latent vector ``z`` (``d`` numbers). Before the decoder
improvises a bar from it, ``z`` passes a channel that may carry only ``R`` bits per bar. The
channel is the one rate-distortion theory prescribes for Gaussian sources:

1. **Bit allocation by reverse water-filling** (:func:`allocate_bits`). Each latent
   dimension ``i`` varies across the query with variance ``s_i^2``. Bits are handed out one
   at a time, each to the dimension whose *remaining* uncertainty is largest; one bit
   divides that uncertainty by 4. A dimension that receives no bit is not sent at all:
   the decoder gets only the channel mean for it.
2. **Berger's optimal Gaussian test channel** (:func:`transmit`). With ``a_i = 2^(-2 b_i)``
   (the fraction of the variance that is lost, ``D_i / s_i^2``)::

       z_hat_i = a_i * m_i + (1 - a_i) * z_i + sqrt(a_i * (1 - a_i)) * s_i * eps,  eps ~ N(0, 1)

   At 0 bits the decoder hears only the mean ``m`` (every bar becomes the same "average"
   bar); with infinitely many bits it hears ``z`` itself (the plain auto-encoder).

Musical example: a chorale of 16 bars whose latents differ mostly in 3 dimensions. At 8 bits
per bar those 3 dimensions share the bits and the other 497 are replaced by the piece's
average; the improvisation keeps the broad harmonic rhythm of the chorale and forgets detail.

Fractional rates. ``floor(R)`` whole bits are allocated greedily; the remaining fraction
``f = R - floor(R)`` goes to the dimension the greedy rule would choose next, whose variance
is divided by ``4**f``. The allocation is therefore continuous and non-decreasing in ``R``.

Zero variance. A dimension that does not vary across the query (a collapsed latent, or any
dimension of a one-bar query) has nothing to tell the decoder: it never gets a finite number
of bits while another dimension has positive variance, and its distortion is 0. If every
dimension has zero variance no bits are used at any finite rate. At ``R = inf`` every
dimension, whatever its variance, is passed through unchanged.

Everything here is plain numpy; arrays cross the boundary as ``(n_bars, d)`` float arrays.
"""

from __future__ import annotations

import logging
import math
import numbers
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from .errors import ParameterError

log = logging.getLogger(__name__)

__all__ = [
    "ChannelOptions",
    "ChannelResult",
    "allocate_bits",
    "check_rate",
    "transmit",
    "transmit_many",
    "VARIANCE_CHOICES",
    "MEAN_CHOICES",
    "MAX_FINITE_RATE",
]

#: Where the source variance ``s^2`` comes from (see :class:`ChannelOptions`).
VARIANCE_CHOICES = ("query", "posterior", "prior")
#: Where the channel mean ``m`` comes from (see :class:`ChannelOptions`).
MEAN_CHOICES = ("query", "posterior", "prior", "tonic")
#: What the improvisation hears at rate 0, in words, for each channel mean (the classroom
#: script and the docs say it from here, so the words follow the model's own setting).
FALLBACK_WORDS = {
    "query": "every bar hears only the average of the whole piece",
    "posterior": "every bar still hears its own code, blurred by the channel's noise",
    "prior": "every bar hears only the model's default bar, whatever the piece",
    "tonic": "every bar falls back on the tonic chord of the piece's key, in the piece's "
             "average texture",
}


def fallback_words(mean: str) -> str:
    """What rate 0 plays with the channel mean ``mean``, in words for a class.

    Example: ``fallback_words("tonic")`` (the shipped model's setting) says every bar falls
    back on the tonic chord; ``fallback_words("query")`` that every bar hears the average.
    """
    if mean not in FALLBACK_WORDS:
        raise ParameterError(f"channel mean {mean!r} is unknown; choose one of "
                             f"{', '.join(MEAN_CHOICES)}")
    return FALLBACK_WORDS[mean]


#: Finite rates above this are refused (use ``inf`` for a lossless channel).
MAX_FINITE_RATE = float(2 ** 40)


@dataclass(frozen=True)
class ChannelOptions:
    """How the channel models the query's latents.

    ``variance`` -- the source variance ``s_i^2`` that the bits are allocated by:

    * ``"query"`` (default): the variance of the query's posterior means across its bars.
      The channel then spends bits on what actually changes from bar to bar in *this* piece;
      a dimension that is the same in every bar costs nothing.
    * ``"posterior"``: the mean over bars of the encoder's posterior variance
      ``exp(logvar)``, as in the reference notebook. Bits go to the dimensions the encoder
      is *unsure* about, which for a well-trained VAE are the collapsed, uninformative ones;
      keep it to reproduce the paper's figures.
    * ``"prior"``: 1 for every dimension. Bits are spread evenly (lowest index first on
      ties), whatever the query; useful as a baseline.

    ``mean`` -- the channel mean ``m`` that the decoder hears for untransmitted detail:

    * ``"query"`` (default): the time-average of the query's posterior means. At rate 0
      every bar decodes the piece's "average bar".
    * ``"posterior"``: each bar's own posterior mean. With ``sample=False`` the channel then
      only adds noise around ``z`` and even rate 0 reproduces the query bar by bar; it
      isolates the effect of the noise from the effect of forgetting.
    * ``"prior"``: 0, the centre of the VAE's prior. At rate 0 every bar decodes the
      model's own "default" bar, independent of the query.
    * ``"tonic"``: a code given by the caller (``mean_vector=`` of :func:`transmit`), in
      practice the encoder's code of a bar holding the query's tonic triad
      (:func:`qbdi_musicology.generate.tonic_code`). The receiver is told the query's key
      once per piece (at most ``log2(24)``, about 4.6 bits per piece) and shrinks what it
      was not sent toward the tonic: at rate 0 every bar decodes a tonic chord. This is a
      modelling choice, the key as side information, not something the channel finds.

    ``sample`` -- ``False`` (default) sends ``z = mu``; ``True`` first draws
    ``z ~ N(mu, exp(logvar))`` with the seed, adding the encoder's own uncertainty.

    Example::

        ChannelOptions()                       # the documented defaults
        ChannelOptions(variance="posterior")   # the reference notebook's allocation
        ChannelOptions(mean="tonic")           # needs transmit(..., mean_vector=code)
    """

    variance: str = "query"
    mean: str = "query"
    sample: bool = False

    def __post_init__(self) -> None:
        if self.variance not in VARIANCE_CHOICES:
            raise ParameterError(
                f"channel variance option {self.variance!r} is unknown; "
                f"choose one of {', '.join(VARIANCE_CHOICES)}")
        if self.mean not in MEAN_CHOICES:
            raise ParameterError(
                f"channel mean option {self.mean!r} is unknown; "
                f"choose one of {', '.join(MEAN_CHOICES)}")
        if not isinstance(self.sample, (bool, np.bool_)):
            raise ParameterError(
                f"channel sample option {self.sample!r} must be True or False")

    def to_dict(self) -> dict[str, Any]:
        """The options as plain values, for metadata and CSV rows."""
        return {"variance": self.variance, "mean": self.mean, "sample": bool(self.sample)}

    def describe(self) -> str:
        """One line for score metadata, e.g. ``'variance=query, mean=query, sample=no'``."""
        return (f"variance={self.variance}, mean={self.mean}, "
                f"sample={'yes' if self.sample else 'no'}")


def check_rate(rate_bits: Any) -> float:
    """Return ``rate_bits`` as a float, or raise :class:`ParameterError`.

    A rate is a number of bits per bar, ``0 <= R <= 2**40`` or ``inf``.

    Example::

        check_rate(256)        # 256.0
        check_rate(math.inf)   # inf (lossless)
    """
    if isinstance(rate_bits, (bool, np.bool_)) or not isinstance(rate_bits, numbers.Real):
        raise ParameterError(
            f"rate {rate_bits!r} is not a number; give bits per bar >= 0 or inf")
    value = float(rate_bits)
    if math.isnan(value) or value < 0:
        raise ParameterError(
            f"rate {rate_bits!r} is outside the allowed range: bits per bar >= 0 or inf")
    if value > MAX_FINITE_RATE and not math.isinf(value):
        raise ParameterError(
            f"rate {rate_bits!r} is larger than {MAX_FINITE_RATE:g} bits per bar; "
            "use inf for a lossless channel")
    return value


def _check_variances(variances: Any) -> np.ndarray:
    try:
        var = np.asarray(variances, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(
            "variances must be a list of numbers, one per latent dimension") from None
    if var.ndim != 1 or var.size == 0:
        raise ParameterError(
            f"variances must be a non-empty 1-D vector (one per latent dimension), "
            f"got shape {var.shape}")
    bad = np.flatnonzero(~np.isfinite(var) | (var < 0))
    if bad.size:
        i = int(bad[0])
        raise ParameterError(
            f"variance {var[i]!r} of latent dimension {i} ({bad.size} bad in all) is "
            "outside the allowed range: finite and >= 0")
    return var


def _candidates_at_or_above(exponents: np.ndarray, level: int) -> int:
    """How many greedy steps have a value >= 2**level (see :func:`_whole_bits`)."""
    above = exponents[exponents >= level]
    return int(np.sum((above - level) // 2 + 1))


def _whole_bits(var: np.ndarray, n_bits: int) -> tuple[np.ndarray, int | None]:
    """Greedy reverse water-filling of ``n_bits`` whole bits, without a loop over bits.

    The greedy rule (give the bit to the largest current variance, lowest index on ties,
    then divide it by 4) takes, from all the values ``v_ik = s_i^2 / 4^k`` (k = 0, 1, ...),
    the ``n_bits`` largest ones in the order (value descending, index ascending): within a
    dimension the values strictly decrease, so the next value in that order is always one
    the greedy rule can take. Writing ``s_i^2 = m_i * 2^e_i`` with ``m_i`` in [0.5, 1)
    (``frexp``, exact), ``v_ik = m_i * 2^(e_i - 2k)``: values compare by the integer exponent
    first and the mantissa second, so the comparison is exact, with no rounding and no
    underflow. A bisection finds the exponent level the last bit lies on; within that
    level the candidates are sorted by (mantissa descending, index ascending).

    Returns the bits and the index of the dimension the next (``n_bits + 1``-th) bit
    would go to, or None when no dimension has positive variance.
    """
    d = var.size
    bits = np.zeros(d, dtype=np.float64)
    positive = var > 0
    if not positive.any():
        return bits, None
    mant, expo = np.frexp(var)
    expo = expo.astype(np.int64)
    pos_expo = expo[positive]
    # Invariant: C(lo) > n_bits >= C(hi), C(level) = number of values >= 2**level.
    lo = int(pos_expo.min()) - 2 * n_bits - 2
    hi = int(pos_expo.max()) + 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _candidates_at_or_above(pos_expo, mid) > n_bits:
            lo = mid
        else:
            hi = mid
    level = lo
    # Every value with exponent above `level` is taken.
    above = positive & (expo >= level + 1)
    bits[above] = (expo[above] - level - 1) // 2 + 1
    remaining = n_bits - int(bits.sum())
    # Candidates with exponent exactly `level`: one per dimension whose parity fits.
    on_level = np.flatnonzero(positive & (expo >= level) & ((expo - level) % 2 == 0))
    order = on_level[np.lexsort((on_level, -mant[on_level]))]
    bits[order[:remaining]] += 1
    return bits, int(order[remaining])


def allocate_bits(variances: Sequence[float] | np.ndarray, rate_bits: float) -> np.ndarray:
    """Bits per latent dimension for a channel of ``rate_bits`` bits per bar.

    Reverse water-filling, greedy: each whole bit goes to the dimension with the largest
    current variance (lowest index on ties), whose variance is then divided by 4; the
    fractional part ``f`` of the rate goes to the next dimension in that order, dividing
    its variance by ``4**f``. The result sums to ``rate_bits`` (unless every variance is
    0: then nothing is worth sending and all bits are 0). At ``inf`` every dimension gets
    ``inf`` bits. Dimensions with zero variance get no bits at any finite rate.

    Runs in ``O(d log(d + R))`` time: rates of millions of bits over 1000 dimensions take
    well under a millisecond.

    Example: a piece whose latents vary with variances (4, 1, 0.25) at 2 bits per bar::

        allocate_bits([4, 1, 0.25], 2)    # array([2., 0., 0.])
        # bit 1 -> dim 0 (4 becomes 1); bit 2: dims 0 and 1 tie at 1 -> lowest index, dim 0
        allocate_bits([4, 1, 0.25], 3.5)  # array([2.5, 1., 0.])
        # bit 3 -> dim 1; then all three stand at 0.25 and half a bit goes to dim 0
    """
    var = _check_variances(variances)
    rate = check_rate(rate_bits)
    if math.isinf(rate):
        return np.full(var.size, np.inf)
    n_bits = int(math.floor(rate))
    fraction = rate - n_bits
    bits, next_dim = _whole_bits(var, n_bits)
    if next_dim is None:
        if rate > 0:
            log.debug("every latent dimension has zero variance: %g bits unused", rate)
        return bits
    if fraction > 0:
        bits[next_dim] += fraction
    return bits


def _as_latents(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a numeric array of shape (n_bars, d)") from None
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ParameterError(
            f"{name} must have shape (n_bars, d) with at least one bar and one dimension, "
            f"got shape {arr.shape}")
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        bar, dim = (int(x) for x in bad[0])
        raise ParameterError(
            f"{name} has a non-finite value {arr[bar, dim]!r} at bar {bar + 1}, latent "
            f"dimension {dim}; all values must be finite (check the encoder's output)")
    return arr


@dataclass(frozen=True)
class _Source:
    """What the channel needs from one encoding, computed once for many rates."""

    z: np.ndarray               # (n_bars, d) what is sent
    mean: np.ndarray            # (n_bars, d) channel mean m
    variance: np.ndarray        # (d,) source variance s^2
    eps: np.ndarray             # (n_bars, d) standard normal channel noise


def _check_mean_vector(mean_vector: Any, options: ChannelOptions, d: int) -> np.ndarray | None:
    """The caller's channel mean for ``mean="tonic"`` as a (d,) vector, or None otherwise."""
    if options.mean != "tonic":
        if mean_vector is not None:
            raise ParameterError(
                f"a mean_vector was given but the channel mean option is {options.mean!r}; "
                "use ChannelOptions(mean='tonic') to send a given mean, or drop mean_vector")
        return None
    if mean_vector is None:
        raise ParameterError(
            "channel mean option 'tonic' needs the tonic's latent code: pass "
            "mean_vector= (see generate.tonic_code), or choose another mean option")
    try:
        vec = np.asarray(mean_vector, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError("mean_vector must be a numeric vector, one value per latent "
                             "dimension") from None
    if vec.shape != (d,):
        raise ParameterError(
            f"mean_vector has shape {vec.shape} but the latents have {d} dimensions; "
            f"give a vector of shape ({d},)")
    if not np.all(np.isfinite(vec)):
        raise ParameterError("mean_vector has non-finite values; all must be finite")
    return vec


def _prepare(mu: Any, logvar: Any, seed: int, options: ChannelOptions,
             mean_vector: Any = None) -> _Source:
    if not isinstance(options, ChannelOptions):
        raise ParameterError(
            f"options must be a ChannelOptions, got {type(options).__name__}")
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ParameterError(f"seed {seed!r} must be a whole number >= 0")
    mu = _as_latents("mu", mu)
    needs_logvar = options.sample or options.variance == "posterior"
    if logvar is None:
        if needs_logvar:
            raise ParameterError(
                f"channel options ({options.describe()}) need the encoder's logvar, "
                "but none was given")
    else:
        logvar = _as_latents("logvar", logvar)
        if logvar.shape != mu.shape:
            raise ParameterError(
                f"mu has shape {mu.shape} but logvar has shape {logvar.shape}; "
                "they must match (n_bars, d)")
        if needs_logvar and np.any(logvar > 700):
            raise ParameterError(
                "logvar has values above 700 (variance overflows); check the encoder")
    n_bars, d = mu.shape
    given_mean = _check_mean_vector(mean_vector, options, d)
    rng = np.random.default_rng(seed)
    # Draw order is part of the contract (same seed -> same output): z first, then eps.
    if options.sample:
        z = mu + np.exp(0.5 * logvar) * rng.standard_normal((n_bars, d))
    else:
        z = mu
    eps = rng.standard_normal((n_bars, d))
    if options.variance == "query":
        variance = mu.var(axis=0)
    elif options.variance == "posterior":
        variance = np.exp(logvar).mean(axis=0)
    else:
        variance = np.ones(d)
    if options.mean == "query":
        mean = np.broadcast_to(mu.mean(axis=0), (n_bars, d))
    elif options.mean == "posterior":
        mean = mu
    elif options.mean == "tonic":
        mean = np.broadcast_to(given_mean, (n_bars, d))
    else:
        mean = np.zeros((n_bars, d))
    return _Source(z=z, mean=np.array(mean), variance=variance, eps=eps)


@dataclass(frozen=True)
class ChannelResult:
    """One pass of a query's latents through the channel at one rate.

    Arrays: ``z`` and ``z_hat`` (n_bars, d) are what was sent and what the decoder hears;
    ``channel_mean`` (n_bars, d) is ``m``; ``bits``, ``source_variance`` and
    ``distortion`` (d,) are ``b_i``, ``s_i^2`` and ``D_i = s_i^2 * 2^(-2 b_i)``, the
    expected squared error the channel leaves in dimension ``i``.

    Example::

        result = transmit(mu, logvar, 32, seed=1)
        result.active_dimensions     # how many latent dimensions got any bits
        result.relative_distortion   # share of the query's latent variation lost
    """

    z: np.ndarray
    z_hat: np.ndarray
    bits: np.ndarray
    source_variance: np.ndarray
    distortion: np.ndarray
    channel_mean: np.ndarray
    rate_bits: float
    options: ChannelOptions = field(default_factory=ChannelOptions)
    seed: int = 0

    @property
    def n_bars(self) -> int:
        return int(self.z.shape[0])

    @property
    def n_dims(self) -> int:
        return int(self.z.shape[1])

    @property
    def used_bits(self) -> float:
        """Bits actually allocated (equals the rate unless no dimension varies)."""
        return float(self.bits.sum())

    @property
    def active_dimensions(self) -> int:
        """Number of latent dimensions that receive any bits (the rest send only ``m``)."""
        return int(np.count_nonzero(self.bits > 0))

    @property
    def total_distortion(self) -> float:
        """``sum_i D_i``: expected squared latent error per bar."""
        return float(self.distortion.sum())

    @property
    def mean_distortion(self) -> float:
        """``mean_i D_i``: expected squared latent error per bar and dimension."""
        return float(self.distortion.mean())

    @property
    def relative_distortion(self) -> float:
        """``sum D_i / sum s_i^2``: 1 at rate 0, 0 at rate inf (0 if nothing varies)."""
        total = float(self.source_variance.sum())
        return self.total_distortion / total if total > 0 else 0.0

    @property
    def empirical_distortion(self) -> float:
        """The squared error actually realised, ``mean over bars and dims (z - z_hat)^2``."""
        return float(np.mean((self.z - self.z_hat) ** 2))

    @property
    def lossless(self) -> bool:
        return math.isinf(self.rate_bits)

    def to_record(self) -> dict[str, Any]:
        """Per-rate statistics as one flat row (for a CSV or a pandas DataFrame)."""
        finite_bits = self.bits[np.isfinite(self.bits)]
        return {
            "rate_bits": self.rate_bits,
            "n_bars": self.n_bars,
            "n_dims": self.n_dims,
            "dims_with_bits": self.active_dimensions,
            "max_bits_per_dim": float(self.bits.max()) if finite_bits.size == self.bits.size
            else math.inf,
            "total_source_variance": float(self.source_variance.sum()),
            "total_distortion": self.total_distortion,
            "mean_distortion": self.mean_distortion,
            "relative_distortion": self.relative_distortion,
            "empirical_distortion": self.empirical_distortion,
            "variance_option": self.options.variance,
            "mean_option": self.options.mean,
            "sample": bool(self.options.sample),
            "seed": self.seed,
        }


def _pass(source: _Source, rate: float, seed: int, options: ChannelOptions) -> ChannelResult:
    bits = allocate_bits(source.variance, rate)
    if math.isinf(rate):
        a = np.zeros_like(bits)
    else:
        a = np.exp2(-2.0 * bits)
    distortion = source.variance * a
    z, m = source.z, source.mean
    z_hat = a * m + (1.0 - a) * z + np.sqrt(a * (1.0 - a) * source.variance) * source.eps
    # Exact ends, independent of rounding: no bits -> the mean, infinite bits -> z.
    z_hat = np.where(bits == 0, m, z_hat)
    z_hat = np.where(np.isinf(bits), z, z_hat)
    return ChannelResult(z=z, z_hat=z_hat, bits=bits, source_variance=source.variance,
                         distortion=distortion, channel_mean=m, rate_bits=rate,
                         options=options, seed=int(seed))


def transmit(mu: Any, logvar: Any, rate_bits: float, *, seed: int = 0,
             options: ChannelOptions = ChannelOptions(),
             mean_vector: Any = None) -> ChannelResult:
    """Pass one query's latents through the channel at ``rate_bits`` bits per bar.

    ``mu`` and ``logvar`` are the encoder's posterior means and log-variances, shape
    ``(n_bars, d)`` (``logvar`` may be None when the options do not use it). The noise
    comes from ``numpy.random.default_rng(seed)``: the same seed gives the same output,
    and a result is the same whether computed alone or inside :func:`transmit_many`.
    ``mean_vector`` (shape ``(d,)``) is the channel mean for ``options.mean == "tonic"``
    and must be None otherwise.

    Example: at 0 bits every bar hears the piece's mean latent, at ``inf`` its own::

        transmit(mu, logvar, 0).z_hat        # every row == mu.mean(axis=0)
        transmit(mu, logvar, math.inf).z_hat # == mu
    """
    rate = check_rate(rate_bits)
    source = _prepare(mu, logvar, seed, options, mean_vector)
    return _pass(source, rate, seed, options)


def transmit_many(mu: Any, logvar: Any, rates: Iterable[float], *, seed: int = 0,
                  options: ChannelOptions = ChannelOptions(),
                  mean_vector: Any = None) -> list[ChannelResult]:
    """Pass the same latents through channels of several rates, one result per rate.

    The latents, the sampled ``z`` and the noise ``eps`` are prepared once and shared by
    all rates (common random numbers), so differences between the rates come from the
    rate alone; ``transmit_many(mu, lv, rates)[k]`` equals ``transmit(mu, lv, rates[k])``.

    Example::

        for r in transmit_many(mu, logvar, [0, 8, 32, 128, math.inf], seed=3):
            print(r.rate_bits, r.active_dimensions, r.mean_distortion)
    """
    if isinstance(rates, (str, bytes)) or not isinstance(rates, Iterable):
        raise ParameterError("rates must be a list of bits per bar, like [0, 8, 32, inf]")
    checked = [check_rate(r) for r in rates]
    if not checked:
        raise ParameterError("the list of rates is empty; give bits per bar like 0,8,32,inf")
    source = _prepare(mu, logvar, seed, options, mean_vector)
    return [_pass(source, rate, seed, options) for rate in checked]
