"""The cross-model composer: terms from many models, descended on one shared canvas.

    E(x) = Σ_i c_m(i) · w_i · E_m(i)(resize(x, s_m(i)), z_i)

x is one RGB canvas [B, 3, S, S]; each model m sees it resized (differentiably,
antialiased) to its native size s_m. The terms of one model run in one batched
call per step; all models share one step loop on one device.

Step sizes. Energies are only defined up to a scale, which each model's trained
step size λ_m absorbs, so raw energies of two models are not comparable. Each
model's term is therefore weighted by c_m = λ_m · (S / s_m)²: descending on
Σ_m c_m E_m with step 1 moves the canvas, per model, exactly as that model's own
sampler would (λ_m), and the (S / s_m)² undoes the dilution of the gradient by
the resize (downsampling by S / s_m spreads each native pixel's gradient over
(S / s_m)² canvas pixels). Models trained with λ = 100 and λ = 1000 thus pull
with the strength each was trained to, and neither drowns the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ._checks import check_int, check_seed
from .core.model import COMET
from .core.sampler import descend, get_schedule
from .errors import CometError
from .spec import ComponentSpec, check_weight, parse_spec


@dataclass
class Term:
    model: str              # key into Composer.models, e.g. "clevr@v1"
    component: int          # k: which of the model's components (its pos-embed setting)
    latent: torch.Tensor    # z [D]
    weight: float = 1.0
    label: str = ""


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Canvas [B, 3, S, S] → [B, 3, size, size]; antialiased when shrinking, differentiable."""
    if x.shape[-1] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                         antialias=size < x.shape[-1])


# The picture is enlarged (nearest neighbour) to at least this many pixels by default:
# the zoo's 32-px canvases are too small to look at.
MIN_VIEW = 128


def view_scale(canvas: int) -> int:
    """The default enlargement of a canvas of `canvas` pixels: the least that reaches MIN_VIEW."""
    return max(1, -(-MIN_VIEW // canvas))


MAX_BATCH = 64     # images per compose call (a grid of at most 8 x 8)
MAX_STEPS = 10_000  # descent steps per compose call (the zoo's default is 4 x 5)

# Descent steps by default: 4 × the models' largest N. Measured on the zoo
# (docs/compose_steps.png): N steps leave noise where no chosen concept acts; 4N clears
# it, and more changes nothing visible. `comet compose` and Python share this default.
STEPS_FACTOR = 4


class Composer:
    def __init__(self, models: dict[str, COMET], terms: list[Term], size: int | None = None,
                 device: str | torch.device = "cpu", bf16: bool = False):
        if not terms:
            raise CometError("nothing to compose: give at least one component")
        unknown = sorted({t.model for t in terms} - set(models))
        if unknown:
            raise CometError(f"terms refer to models that were not given: {', '.join(unknown)}")
        self.device = torch.device(device)
        self.models = {key: m.to(self.device).eval() for key, m in models.items()}
        self.terms = terms
        for term in terms:  # a Term built in Python gets the check a typed spec gets
            check_weight(term.weight, f"{term.label or term.model}: weight")
        self.size = size if size is not None else max(self.models[t.model].config.image_size for t in terms)
        check_int(self.size, "canvas size", 8, 1024)
        self.bf16 = bf16 and self.device.type == "cuda"

    # -- building from specs -----------------------------------------------------
    @classmethod
    def from_specs(cls, specs: list[str | ComponentSpec], *, size: int | None = None,
                   device: str | torch.device = "auto", bf16: bool = False) -> "Composer":
        """Resolve `MODEL[@VERSION]:COMPONENT[@SOURCE][*WEIGHT]` specs through the hub.
        `device` "auto" (as on the command line) is CUDA when present, else the CPU."""
        from . import hub
        from .core.device import resolve_device
        from .hub.cards import read_card_or_default
        from .hub.latents import latents_for
        from .hub.loaded import loaded_model

        device = resolve_device(device) if isinstance(device, str) else device

        if not specs or not isinstance(specs, (list, tuple)):
            raise CometError(f"nothing to compose: give a list of component specs, got {specs!r:.60}")
        if not all(isinstance(s, (str, ComponentSpec)) for s in specs):
            raise CometError("each component spec is text (MODEL:COMPONENT…) or a ComponentSpec")
        parsed = [parse_spec(s) if isinstance(s, str) else s for s in specs]
        models: dict[str, COMET] = {}
        cards, snapshots = {}, {}
        resolved = []                 # (spec, model ref, component index, Source)
        for text, spec in zip(specs, parsed):
            try:
                ref = spec.model_ref
                if ref not in models:
                    snapshots[ref] = hub.resolve(spec.ref)
                    models[ref] = loaded_model(snapshots[ref], device)   # one load per process
                    cards[ref] = read_card_or_default(snapshots[ref], models[ref].config.pos_embed)
                model, card = models[ref], cards[ref]
                index, exemplar = _component(spec, model, card)
                source = _source(spec, card, snapshots[ref], exemplar, model.config.image_size)
            except CometError as exc:  # name the spec the user typed
                label = text if isinstance(text, str) else f"{spec.model_ref}:{spec.component}"
                raise CometError(f"{label}: {exc}") from None
            resolved.append((spec, ref, index, source))
        # Only once every spec has resolved: a latent not stored in the artifact may need
        # inference and refinement (refine_steps), which takes seconds on a CPU, and a typo
        # in the last spec should not wait for it.
        latents: dict[tuple[str, object], torch.Tensor] = {}
        terms = []
        for spec, ref, index, source in resolved:
            key = (ref, source.key)            # one latent per (model, image)
            if key not in latents:
                latents[key] = latents_for(models[ref], source.image(), snapshots[ref], source.exemplar)  # [K, D]
            terms.append(Term(ref, index, latents[key][index], spec.weight, label=f"{ref}:{spec.component}"))
        return cls(models, terms, size=size, device=device, bf16=bf16)

    # -- sampling ------------------------------------------------------------------
    def energy_fn(self, batch: int):
        """x [B, 3, S, S] ↦ the weighted, step-size-normalised sum of all terms [B]."""
        groups = []
        for key, model in self.models.items():
            mine = [t for t in self.terms if t.model == key]
            if not mine:
                continue
            net = model.energy_net
            z = torch.stack([t.latent for t in mine]).to(self.device)               # [T, D]
            cond = net.condition(z[None]).repeat(batch, 1)                           # [B*T, P]
            mask = net.pos_mask[[t.component for t in mine]]                         # [T]
            native = model.config.image_size
            scale = model.config.step_size * (self.size / native) ** 2
            coef = torch.tensor([scale * t.weight for t in mine], device=self.device)  # [T]
            groups.append((net, native, cond, mask, coef))

        def energy(x: torch.Tensor) -> torch.Tensor:
            total = x.new_zeros(x.shape[0])
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.bf16):
                for net, native, cond, mask, coef in groups:
                    e = net.evaluate(resize(x, native), cond, pos_mask=mask)        # [B, T]
                    total = total + (e.float() * coef).sum(dim=1)
            return total

        return energy

    @property
    def steps(self) -> int:
        return max(m.config.steps for m in self.models.values())

    def sample(self, batch: int = 1, *, steps: int | None = None, sampler: str = "gd", seed: int = 0,
               trajectory: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Generate `batch` images [B, 3, S, S] in [0, 1] from x_0 ~ U(0, 1), descending
        `steps` steps (default STEPS_FACTOR × the models' largest N, as `comet compose`)."""
        check_int(batch, "batch", 1, MAX_BATCH)
        if steps is not None:
            check_int(steps, "steps", 1, MAX_STEPS)
        check_seed(seed)
        schedule = get_schedule(sampler)
        generator = torch.Generator(device=self.device).manual_seed(seed)
        x0 = torch.rand(batch, 3, self.size, self.size, generator=generator, device=self.device)
        with torch.no_grad():
            energy = self.energy_fn(batch)
        x = descend(energy, x0, steps or STEPS_FACTOR * self.steps, 1.0, schedule=schedule, generator=generator, trajectory=trajectory)
        return x.detach().clamp(0, 1)

    def picture(self, batch: int = 1, *, scale: int | None = None, **sample_options):
        """`sample` as the PIL image `comet compose` saves: one canvas, or a grid of up to 8
        per row, enlarged `scale` times (default `view_scale`: at least MIN_VIEW pixels)."""
        from .data.images import grid

        scale = view_scale(self.size) if scale is None else check_int(scale, "scale", 1, 16)
        images = self.sample(batch, **sample_options)                               # [B, 3, S, S]
        return grid(images, nrow=min(batch, 8), pad=0 if batch == 1 else 2, scale=scale)


def compose(specs: list[str] | str, *, size: int | None = None, steps: int | None = None, sampler: str = "gd",
            seed: int = 0, batch: int = 1, scale: int | None = None, device: str = "auto", bf16: bool = False):
    """The picture of `comet compose SPEC… --seed SEED`, pixel for pixel, as a PIL image:

        from comet_zoo import compose
        compose(["clevr:obj2", "clevr-lighting:light0"]).save("out.png")

    Defaults are the command's: 4N descent steps, the GPU when there is one, at least
    MIN_VIEW pixels."""
    specs = [specs] if isinstance(specs, str) else list(specs) if isinstance(specs, (list, tuple)) else specs
    composer = Composer.from_specs(specs, size=size, device=device, bf16=bf16)
    return composer.picture(batch, scale=scale, steps=steps, sampler=sampler, seed=seed)


def _is_index(text: str) -> bool:
    """ASCII digits only: str.isdigit() is also true for '²', which int() refuses."""
    return text.isascii() and text.isdigit()


def _component(spec: ComponentSpec, model: COMET, card) -> tuple[int, str | None]:
    """(component index, its default exemplar) for a concept name or an index."""
    k = model.config.num_components
    if _is_index(spec.component):
        index = int(spec.component)
        if index >= k:
            raise CometError(f"{spec.model_ref} has components 0..{k - 1}; got index {index}")
        concept = next((c for c in card.concepts if c.index == index), None)
        return index, concept.exemplar if concept else None
    concept = card.concept(spec.component)
    return concept.index, concept.exemplar


@dataclass
class Source:
    """The image a term's latent is inferred from: a card exemplar of the snapshot (whose
    latent the artifact may store) or the user's image file, loaded only when needed."""
    path: Path
    size: int
    exemplar: str | None = None     # the exemplar's path inside the snapshot
    _image: torch.Tensor | None = field(default=None, repr=False)

    @property
    def key(self):
        return ("exemplar", self.exemplar) if self.exemplar is not None else ("image", self.image().numpy().tobytes())

    def image(self) -> torch.Tensor:
        """[1, 3, size, size], read once."""
        from .data.images import load_image

        if self._image is None:
            self._image = load_image(self.path, self.size)
        return self._image


def _exemplar(snapshot: Path, rel: str, size: int) -> Source:
    from ._io import MAX_IMAGE_BYTES, check_regular

    if not (snapshot / rel).is_file():
        raise CometError(f"exemplar {rel} is missing from {snapshot}")
    check_regular(snapshot / rel, MAX_IMAGE_BYTES, inside=snapshot)   # no FIFO, no link out of the model
    return Source(snapshot / rel, size, rel)


def _source(spec: ComponentSpec, card, snapshot: Path, exemplar: str | None, size: int) -> Source:
    """Where a term's latent comes from: the spec's SOURCE, else the concept's exemplar."""
    if spec.source is None:
        if exemplar is None and not card.exemplars:
            raise CometError(f"{spec.model_ref} has no exemplars; give a source image: {spec.model_ref}:{spec.component}@IMAGE")
        return _exemplar(snapshot, exemplar or card.exemplars[0], size)
    if _is_index(spec.source):
        i = int(spec.source)
        if i >= len(card.exemplars):
            raise CometError(f"{spec.model_ref} has exemplars 0..{len(card.exemplars) - 1}; got {i}")
        return _exemplar(snapshot, card.exemplars[i], size)
    source = Source(Path(spec.source), size)
    source.image()                 # a missing or unreadable file is reported before any inference
    return source
