"""The bar variational autoencoder (VAE) and its configuration.

One bar of piano-roll (16 steps x 78 pitches x {play, articulate} = 2496 on/off cells on the
paper's grid) is encoded by one hidden layer of 500 ReLU units into a Gaussian latent code
(mean ``mu`` and log-variance ``logvar`` per dimension); a mirrored decoder turns a latent
code back into 2496 probabilities, one per cell. Training minimises

    loss = binary cross-entropy(bar, decoded) + beta * KL(q(z | bar) || N(0, I))
           [+ harmony_weight * cross-entropy(chroma of the bar, harmony head(z_harmony))]

The last term is this package's addition to the paper's recipe. The first
``harmony_dims`` latent dimensions (the *harmony part* of the latent) must predict, through
a single linear layer, the bar's pitch-class profile (chroma). Chord information then lives
in those latent dimensions, which pass the same rate-limited channel as the rest of the
code: at a low rate they fall back to the channel mean (for the shipped model the query's
tonic chord, see ``ModelConfig.channel_mean``) instead of bypassing the channel.

Example: ``BarVAE(ModelConfig(latent=32, harmony_dims=12))`` is a 2496-500-32 VAE whose
first twelve latent dimensions carry the bar's chord.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import torch
from torch import nn
from torch.nn import functional as F

from .errors import ParameterError
from .grid import DEFAULT_GRID, PLAY, Grid

TRANSPOSE_CHOICES = ("none", "all12", "normalise")
#: The channel means a model may name as its default (see ``ModelConfig.channel_mean``).
CHANNEL_MEAN_DEFAULTS = ("query", "prior", "tonic")
#: What the harmony part of the code is computed from (see ``ModelConfig.harmony_encoder``).
HARMONY_ENCODERS = ("shared", "chroma")
#: Hidden units of the chroma-only harmony encoder.
HARMONY_HIDDEN = 64
#: What the decoded bar's chroma must match in the harmony-swap loss.
SWAP_TARGETS = ("chroma", "triad")
#: The chroma given to the encoder sums to this (about the number of notes in a busy bar),
#: so it weighs as much as the roll itself in the first layer.
CHROMA_INPUT_SCALE = 12.0


@dataclass(frozen=True)
class ModelConfig:
    """Hyper-parameters of a :class:`BarVAE`; a checkpoint carries its config.

    * ``grid``: the bar grid (steps x pitches); the input size follows from it.
    * ``hidden``: units of the one hidden layer (paper: 500).
    * ``latent``: latent dimensions (paper: 500; fewer avoid *posterior collapse*, where
      most dimensions carry nothing and every channel rate above a few dozen bits is
      effectively lossless).
    * ``beta``: weight of the KL term (paper: 1).
    * ``free_bits``: nats per latent dimension that are not penalised (0 = plain KL); keeps
      dimensions alive.
    * ``kl_anneal_steps``: the KL weight rises linearly from 0 to ``beta`` over this many
      training steps (0 = no annealing).
    * ``harmony_dims``: size of the harmony part of the latent (0 = the paper's model).
    * ``harmony_weight``: weight of the chroma-prediction loss on the harmony part.
    * ``key_normalise``: transpose every query (and training piece) to C major / A minor
      before encoding and back after decoding.
    * ``transpose``: training-time transposition: ``"none"``, ``"all12"`` (every bar in
      all 12 keys) or ``"normalise"`` (each training piece moved to C major / A minor).
    * ``encoder_chroma``: the *encoder* also reads the bar's normalised chroma (12 extra
      inputs), so a chord voiced in an unfamiliar way (a chorale's four voices, Prokofiev's
      spacing) is still recognised. The decoder never sees it: everything it knows about
      the chord has passed the channel.
    * ``input_noise``: during training the encoder sees a re-voiced copy of each bar (each
      pitch moved an octave up or down with this probability, or left out with half of it)
      and the decoder must still give the original: the code learns the chord, not the
      voicing, which is what a query in another style needs.
    * ``harmony_swap_weight``: weight of a loss that makes the *decoder* take its chord from
      the harmony part: each bar's harmony code is decoded with another bar's texture code,
      and the chroma of the result must be the first bar's. Then a query in a foreign style
      (whose texture code means little to a pop decoder) still gets its chords, and at low
      rates the chord follows the harmony part to the piece's average.
    * ``harmony_mix``: in that loss, the harmony code is a random blend of two bars' codes
      and the target the same blend of their chroma, so that an *average* harmony code (what
      the channel sends at low rate) decodes to the average harmony of the bars it came from.
    * ``decoder_chroma``: the *decoder* also reads the chroma that the harmony head predicts
      from the harmony part of the code it is given. That chroma is computed from the
      transmitted code, so it passes the channel too (at a low rate it is the chroma of
      the channel mean); the decoder gets the chord as a pitch-class profile instead of
      having to learn to read it out of twelve abstract numbers.
    * ``transpose_swap_weight``: weight of a loss that separates chord from texture with
      transposed copies: each bar is also encoded moved by a random interval (-5 to +6
      semitones), and the decoder, given the moved copy's harmony part with the original's
      texture part, must reproduce the moved copy cell by cell. The texture part then cannot
      fix the pitches, and a foreign texture code (a chorale's) does not override the chord.
    * ``swap_prior_texture``: in the harmony-swap loss, this share of the bars gets a texture
      code drawn from the prior N(0, I) instead of another pop bar's. A query in a foreign
      style (a quartet, Prokofiev) has texture codes no pop bar has; the decoder then still
      has to play the harmony part's chord over them.
    * ``swap_target``: what the decoded bar's chroma must match in the harmony-swap loss:
      ``"chroma"`` (the bar's own pitch-class profile, passing notes included) or
      ``"triad"`` (half that profile, half the bar's best major/minor triad, the chord
      tones evenly), so the decoder plays the chord rather than every passing note.
    * ``harmony_encoder``: what the harmony part of the code is computed from:
      ``"shared"`` (the encoder's one hidden layer, which reads the whole roll) or
      ``"chroma"`` (a small network of its own that reads only the bar's chroma). With
      ``"chroma"`` two bars with the same pitch-class profile get the same harmony code,
      however they are voiced: a chorale's four voices or a quartet's spacing cannot pull
      the chord away from what the pop bars with that profile taught. The texture part
      still comes from the whole roll; both parts pass the channel.
    * ``harmony_beta``: the KL weight of the harmony part, as a multiple of ``beta``. The
      KL term is the price of information in a dimension: a higher price makes the
      harmony codes of different chords lie closer together, so the channel, which spends
      its bits on the dimensions that vary most across the query's bars, sends the texture
      first and lets the harmony fall back to the tonic at low rates.
    * ``channel_mean``: where the channel falls back to for what it does not send, when the
      caller does not say (see :class:`~qbdi_musicology.channel.ChannelOptions`): ``"query"``
      (the piece's average code) or ``"tonic"`` (the harmony part falls back to the code of
      the query's tonic chord, the rest to the piece's average). It belongs to the recipe:
      a model trained to carry the chord in its harmony part drifts to the tonic only if the
      receiver falls back to it.
    """

    grid: Grid = field(default_factory=lambda: DEFAULT_GRID)
    hidden: int = 500
    latent: int = 32
    beta: float = 1.0
    free_bits: float = 0.0
    kl_anneal_steps: int = 0
    harmony_dims: int = 0
    harmony_weight: float = 0.0
    key_normalise: bool = False
    transpose: str = "none"
    encoder_chroma: bool = False
    input_noise: float = 0.0
    harmony_swap_weight: float = 0.0
    harmony_mix: bool = False
    decoder_chroma: bool = False
    transpose_swap_weight: float = 0.0
    swap_prior_texture: float = 0.0
    swap_target: str = "chroma"
    harmony_encoder: str = "shared"
    harmony_beta: float = 1.0
    channel_mean: str = "query"

    def __post_init__(self) -> None:
        if self.hidden < 1 or self.latent < 1:
            raise ParameterError(
                f"hidden={self.hidden}, latent={self.latent}: both must be >= 1")
        if not (0 <= self.harmony_dims <= self.latent):
            raise ParameterError(
                f"harmony_dims={self.harmony_dims} must be between 0 and latent={self.latent}")
        if not (0.0 <= self.input_noise < 1.0):
            raise ParameterError(f"input_noise={self.input_noise} must be in [0, 1)")
        if self.harmony_swap_weight < 0 or self.transpose_swap_weight < 0:
            raise ParameterError("harmony_swap_weight and transpose_swap_weight must be >= 0")
        if self.transpose_swap_weight > 0 and self.harmony_dims == 0:
            raise ParameterError("transpose_swap_weight needs harmony_dims > 0")
        if self.harmony_swap_weight > 0 and self.harmony_dims == 0:
            raise ParameterError("harmony_swap_weight needs harmony_dims > 0")
        if self.beta < 0 or self.free_bits < 0 or self.harmony_weight < 0:
            raise ParameterError("beta, free_bits and harmony_weight must be >= 0")
        if self.decoder_chroma and self.harmony_dims == 0:
            raise ParameterError("decoder_chroma needs harmony_dims > 0")
        if not (0.0 <= self.swap_prior_texture <= 1.0):
            raise ParameterError(f"swap_prior_texture={self.swap_prior_texture} must be in [0, 1]")
        if self.swap_target not in SWAP_TARGETS:
            raise ParameterError(f"swap_target={self.swap_target!r}: choose one of "
                                 f"{', '.join(SWAP_TARGETS)}")
        if self.harmony_beta < 0:
            raise ParameterError(f"harmony_beta={self.harmony_beta} must be >= 0")
        if self.harmony_encoder not in HARMONY_ENCODERS:
            raise ParameterError(f"harmony_encoder={self.harmony_encoder!r}: choose one of "
                                 f"{', '.join(HARMONY_ENCODERS)}")
        if self.harmony_encoder == "chroma" and self.harmony_dims == 0:
            raise ParameterError("harmony_encoder='chroma' needs harmony_dims > 0")
        if self.channel_mean not in CHANNEL_MEAN_DEFAULTS:
            raise ParameterError(
                f"channel_mean={self.channel_mean!r}: choose one of "
                f"{', '.join(CHANNEL_MEAN_DEFAULTS)}")
        if self.kl_anneal_steps < 0:
            raise ParameterError(f"kl_anneal_steps={self.kl_anneal_steps} must be >= 0")
        if self.transpose not in TRANSPOSE_CHOICES:
            raise ParameterError(
                f"transpose={self.transpose!r}: choose one of {', '.join(TRANSPOSE_CHOICES)}")

    @property
    def input_size(self) -> int:
        """Flattened bar size (2496 on the paper's grid)."""
        return self.grid.input_size

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (the grid as a nested dict)."""
        data = asdict(self)
        data["grid"] = self.grid.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error (a newer format)."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ParameterError(
                f"unknown model config fields {sorted(unknown)}; known: {sorted(known)}")
        data = dict(data)
        if "grid" in data:
            data["grid"] = Grid.from_dict(data["grid"])
        return cls(**data)


@dataclass
class LossTerms:
    """The parts of one batch's loss (all per bar, in nats)."""

    total: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor
    harmony: torch.Tensor
    swap: torch.Tensor | None = None


def bar_chroma_targets(x: torch.Tensor, grid: Grid) -> torch.Tensor:
    """Normalised pitch-class profile of flattened bars: ``(n, input_size) -> (n, 12)``.

    Each sounding step counts once for its pitch class (a whole-note C weighs 16 times a
    sixteenth-note D); rows sum to 1, and an empty bar gets a uniform profile.
    """
    play = x.view(-1, grid.steps, grid.pitches, 2)[..., PLAY].sum(dim=1)  # (n, pitches)
    pcs = torch.arange(grid.low_pitch, grid.low_pitch + grid.pitches) % 12
    onehot = F.one_hot(pcs, 12).to(x.dtype)  # (pitches, 12)
    chroma = play @ onehot
    total = chroma.sum(dim=1, keepdim=True)
    uniform = torch.full_like(chroma, 1.0 / 12)
    return torch.where(total > 0, chroma / total.clamp_min(1e-9), uniform)


def triad_sharpened(chroma: torch.Tensor) -> torch.Tensor:
    """Half a chroma, half its best major/minor triad's three tones (rows sum to 1).

    The triad is the one the evaluation names (cosine with the 24 triad templates of
    :mod:`qbdi_musicology.analysis.chroma`). Example: a C major bar with a passing D,
    chroma (C .4, D .1, E .25, G .25), becomes (C .37, D .05, E .29, G .29).
    """
    from .analysis.chroma import TRIAD_TEMPLATES

    templates = torch.as_tensor(TRIAD_TEMPLATES, dtype=chroma.dtype)
    best = (chroma @ templates.T).argmax(dim=1)
    return 0.5 * chroma + 0.5 * templates[best] / 3.0


def chroma_cross_entropy(logits: torch.Tensor, target: torch.Tensor, grid: Grid) -> torch.Tensor:
    """Cross-entropy between a target chroma and the expected chroma of decoded bars.

    The expected chroma counts each pitch's sounding probability over the steps, summed
    by pitch class and normalised; the loss is small when the decoded bar spends its time
    on the target's pitch classes.
    """
    play = torch.sigmoid(logits).view(-1, grid.steps, grid.pitches, 2)[..., PLAY].sum(dim=1)
    pcs = torch.arange(grid.low_pitch, grid.low_pitch + grid.pitches) % 12
    chroma = play @ F.one_hot(pcs, 12).to(logits.dtype)
    chroma = chroma / chroma.sum(dim=1, keepdim=True).clamp_min(1e-6)
    return -(target * torch.log(chroma.clamp_min(1e-6))).sum(dim=1).mean()


class BarVAE(nn.Module):
    """The paper's bar VAE, with an optional harmony part of the latent.

    ``encode(x) -> (mu, logvar)``, ``decode_logits(z) -> logits`` (apply a sigmoid for
    probabilities), ``loss(x, step, generator)`` for training. ``x`` is a float tensor of
    flattened bars, shape ``(n, input_size)`` with values 0/1.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        n_in = config.input_size
        self.enc_hidden = nn.Linear(n_in + (12 if config.encoder_chroma else 0), config.hidden)
        # with a chroma-only harmony encoder the shared layer gives the texture part only
        own = config.harmony_dims if config.harmony_encoder == "chroma" else 0
        self.enc_mu = nn.Linear(config.hidden, config.latent - own)
        self.enc_logvar = nn.Linear(config.hidden, config.latent - own)
        if own:
            self.harm_hidden = nn.Linear(12, HARMONY_HIDDEN)
            self.harm_mu = nn.Linear(HARMONY_HIDDEN, own)
            self.harm_logvar = nn.Linear(HARMONY_HIDDEN, own)
        self.dec_hidden = nn.Linear(config.latent + (12 if config.decoder_chroma else 0),
                                    config.hidden)
        self.dec_out = nn.Linear(config.hidden, n_in)
        # A *linear* head: the harmony part must hold the chord in a form that averages well
        # (the mean of two codes predicts a blend of their chroma), which is what the channel
        # does at low rate.
        self.harmony_head = (nn.Linear(config.harmony_dims, 12)
                             if config.harmony_dims > 0 else None)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior mean and log-variance of each bar's latent code."""
        chroma = None
        if self.config.encoder_chroma or self.config.harmony_encoder == "chroma":
            chroma = CHROMA_INPUT_SCALE * bar_chroma_targets(x, self.config.grid)
        if self.config.encoder_chroma:
            x = torch.cat([x, chroma], dim=1)
        h = F.relu(self.enc_hidden(x))
        mu, logvar = self.enc_mu(h), self.enc_logvar(h)
        if self.config.harmony_encoder == "chroma":
            hh = F.relu(self.harm_hidden(chroma))
            mu = torch.cat([self.harm_mu(hh), mu], dim=1)
            logvar = torch.cat([self.harm_logvar(hh), logvar], dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Logits of every piano-roll cell for latent codes ``z``."""
        if self.config.decoder_chroma:
            chroma = F.softmax(self.harmony_logits(z), dim=1)
            z = torch.cat([z, CHROMA_INPUT_SCALE * chroma], dim=1)
        return self.dec_out(F.relu(self.dec_hidden(z)))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Probabilities (0-1) of every piano-roll cell."""
        return torch.sigmoid(self.decode_logits(z))

    def harmony_logits(self, z: torch.Tensor) -> torch.Tensor | None:
        """Predicted chroma logits from the harmony part of ``z`` (None without one)."""
        if self.harmony_head is None:
            return None
        return self.harmony_head(z[:, : self.config.harmony_dims])

    def kl_weight(self, step: int) -> float:
        """The KL weight at a training step (linear warm-up to ``beta``)."""
        if self.config.kl_anneal_steps <= 0:
            return self.config.beta
        return self.config.beta * min(1.0, step / self.config.kl_anneal_steps)

    def revoice(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """A copy of flattened bars with pitches moved by octaves or left out (training noise)."""
        p = self.config.input_noise
        grid = self.config.grid
        bars = x.view(-1, grid.steps, grid.pitches, 2)
        u = torch.rand((bars.shape[0], 1, grid.pitches, 1), generator=generator)
        up, down, drop = u < p / 2, (u >= p / 2) & (u < p), (u >= p) & (u < 1.5 * p)
        keep = bars * (~(up | down | drop))
        moved_up = torch.zeros_like(bars)
        moved_up[:, :, 12:] = (bars * up)[:, :, :-12]
        moved_down = torch.zeros_like(bars)
        moved_down[:, :, :-12] = (bars * down)[:, :, 12:]
        return torch.clamp(keep + moved_up + moved_down, max=1.0).view_as(x)

    def loss(self, x: torch.Tensor, *, step: int = 10**9,
             generator: torch.Generator | None = None, noisy: bool = False) -> LossTerms:
        """Loss terms for a batch; ``generator`` makes the reparameterisation reproducible.

        ``noisy=True`` (training) encodes a re-voiced copy (see ``input_noise``).
        """
        x_in = self.revoice(x, generator) if noisy and self.config.input_noise > 0 else x
        mu, logvar = self.encode(x_in)
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        z = mu + eps * torch.exp(0.5 * logvar)
        logits = self.decode_logits(z)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
        kl_dims = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).mean(dim=0)  # per dim
        kl = kl_dims.sum()
        if self.config.free_bits > 0:
            penalised_dims = torch.clamp(kl_dims, min=self.config.free_bits)
        else:
            penalised_dims = kl_dims
        if self.config.harmony_beta != 1.0 and self.config.harmony_dims > 0:
            k = self.config.harmony_dims
            kl_penalised = self.config.harmony_beta * penalised_dims[:k].sum() + \
                penalised_dims[k:].sum()
        else:
            kl_penalised = penalised_dims.sum()
        harmony = torch.zeros((), dtype=x.dtype)
        if self.harmony_head is not None and self.config.harmony_weight > 0:
            target = bar_chroma_targets(x, self.config.grid)
            pred = F.log_softmax(self.harmony_logits(z), dim=1)
            harmony = -(target * pred).sum(dim=1).mean()
        total = recon + self.kl_weight(step) * kl_penalised + self.config.harmony_weight * harmony
        swap = torch.zeros((), dtype=x.dtype)
        if self.config.harmony_swap_weight > 0 and x.shape[0] > 1:
            k = self.config.harmony_dims
            perm = torch.randperm(x.shape[0], generator=generator)
            target = bar_chroma_targets(x, self.config.grid)
            if self.config.swap_target == "triad":
                target = triad_sharpened(target)
            z_h = z[:, :k]
            if self.config.harmony_mix:
                other = torch.randperm(x.shape[0], generator=generator)
                lam = torch.rand((x.shape[0], 1), generator=generator)
                z_h = lam * z_h + (1 - lam) * z_h[other]
                target = lam * target + (1 - lam) * target[other]
            texture = z[perm, k:]
            if self.config.swap_prior_texture > 0:
                drawn = torch.randn(texture.shape, generator=generator, dtype=texture.dtype)
                use = torch.rand((x.shape[0], 1), generator=generator) < \
                    self.config.swap_prior_texture
                texture = torch.where(use, drawn, texture)
            mixed = torch.cat([z_h, texture], dim=1)
            swap = chroma_cross_entropy(self.decode_logits(mixed), target, self.config.grid)
            total = total + self.config.harmony_swap_weight * swap
        if self.config.transpose_swap_weight > 0:
            k = self.config.harmony_dims
            shifted = self.shift_pitches(x, generator)
            mu_s, logvar_s = self.encode(shifted)
            eps_s = torch.randn(mu_s.shape, generator=generator, dtype=mu_s.dtype)
            z_s = mu_s + eps_s * torch.exp(0.5 * logvar_s)
            crossed = torch.cat([z_s[:, :k], z[:, k:]], dim=1)
            moved = F.binary_cross_entropy_with_logits(
                self.decode_logits(crossed), shifted, reduction="sum") / x.shape[0]
            total = total + self.config.transpose_swap_weight * moved
            swap = swap + moved
        return LossTerms(total=total, recon=recon, kl=kl, harmony=harmony, swap=swap)

    def shift_pitches(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """Flattened bars each moved by a random interval of -5..+6 semitones.

        Notes moved off the grid's range are dropped (rare: the grid spans C1-F7).
        """
        grid = self.config.grid
        bars = x.view(-1, grid.steps, grid.pitches, 2)
        shifts = torch.randint(-5, 7, (bars.shape[0],), generator=generator)
        out = torch.zeros_like(bars)
        for t in range(-5, 7):
            rows = shifts == t
            if not bool(rows.any()):
                continue
            if t > 0:
                out[rows, :, t:] = bars[rows, :, :-t]
            elif t < 0:
                out[rows, :, :t] = bars[rows, :, -t:]
            else:
                out[rows] = bars[rows]
        return out.view_as(x)


# --------------------------------------------------------------------------- key normalisation
def key_of_chroma(chroma) -> tuple[int, str]:
    """The key (tonic pitch class, ``"major"``/``"minor"``) of a summed 12-bin chroma.

    The answer is music21's own ``analyze('key')`` of a stream whose pitch classes last as
    long as the chroma says, so training pieces (bar arrays), queries and the evaluation's
    tonic all follow one rule. Example: a chroma that is all C, E and G gives
    ``(0, "major")``; one of A, C and E with a G-sharp gives ``(9, "minor")``.
    """
    from fractions import Fraction

    import numpy as np
    from music21 import note, stream

    chroma = np.asarray(chroma, dtype=np.float64).reshape(12)
    total = chroma.sum()
    if total <= 0:
        return 0, "major"
    s = stream.Stream()
    for pc in range(12):
        if chroma[pc] > 0:
            n = note.Note(60 + pc)
            # durations in 1/64ths of the whole piece: exact, small numbers for music21
            n.quarterLength = Fraction(max(1, int(round(64 * chroma[pc] / total))), 4)
            s.append(n)
    key = s.analyze("key")
    return key.tonic.pitchClass, ("minor" if key.mode == "minor" else "major")


def normalising_shift(tonic_pc: int, mode: str) -> int:
    """Semitones (-5..+6) that move a key to C major (major) or A minor (minor).

    Example: G major -> -7 would leave the range, so ``+5`` (G up a fourth to C);
    E minor -> ``+5`` (E to A); F# major -> ``+6``.
    """
    target = 0 if mode == "major" else 9
    shift = (target - tonic_pc) % 12
    return shift - 12 if shift > 6 else shift
