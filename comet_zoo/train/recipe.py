"""Training recipes as data: a JSON or YAML file with a `model` and a `train` section."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from .._checks import check_seed
from .._io import MAX_CONFIG_BYTES, read_text
from ..core.config import CometConfig, check_field_types, reject_unknown_keys
from ..errors import CometError

RECIPE = "recipe.json"   # beside an exported model: the recipe that trained it


@dataclass
class TrainConfig:
    dataset: str = "shapes"            # entry point in comet_zoo.datasets
    dataset_options: dict = field(default_factory=dict)
    train_size: int = 8192             # scenes rendered once and sampled with replacement
    batch_size: int = 32
    lr: float = 1e-3                   # the paper uses 3e-4; 1e-3 decomposes sooner here (GUIDE §1b)
    warmup: int = 0                    # linear learning-rate warm-up steps
    # Warm-up, stable, decay: the last `decay_steps` steps before total_steps decay the
    # rate linearly to `min_lr`. Resumable: a run may be continued with a decay phase added.
    decay_steps: int = 0
    min_lr: float = 0.0
    grad_clip: float = 1.0
    total_steps: int = 1000
    grad_steps: int = 1                # unrolled steps that back-propagate (truncation)
    sampler: str = "gd"                # the unrolled descent: gd (the paper's) or langevin / anneal (noise)
    # Object-count curriculum: over the first `curriculum_steps` steps, batches come only from
    # training scenes with at most m objects, m rising linearly from the fewest to the most
    # (counted from the masks). 0: off, every scene from step 1.
    curriculum_steps: int = 0
    seed: int = 0
    # Fine-tuning: start from a trained model's weights (a zoo name such as "clevr@v5" or a
    # model folder) instead of a random init; tensors it lacks (a new component's) stay fresh.
    # A resumed run reads its checkpoint instead.
    init_from: str = ""
    checkpoint_every: int = 250
    log_every: int = 25
    # Engine levers (results equal within float tolerance): NHWC memory layout (oneDNN's
    # on a CPU), bf16 autocast (fast on GPUs and on CPUs with AMX or AVX-512 BF16, slow on
    # others; docs/performance.md), torch.compile of the descent steps with no double backward.
    channels_last: bool = False
    # Images per forward/backward inside a step (0: the whole batch). The gradient is the
    # batch's (summed over micro-batches, each weighted by its share); activations shrink
    # to one micro-batch's: less memory and, on a CPU, tensors that stay in cache.
    micro_batch: int = 0
    # "fp32", "bf16" (autocast everywhere) or "bf16-descent": autocast only in the descent steps
    # that keep no graph (N - grad_steps of N), so the encoder, the graph-kept step and every
    # gradient stay fp32 (1.25x a CPU fp32 step at the paper's shape; docs/performance.md).
    precision: str = "fp32"
    compile: bool = False

    def __post_init__(self):
        check_field_types(self, "train.")
        for name in ("train_size", "batch_size", "total_steps", "grad_steps", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise CometError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if self.sampler not in ("gd", "langevin", "anneal"):
            raise CometError(f"train.sampler must be gd, langevin or anneal, got {self.sampler!r}")
        if self.curriculum_steps < 0:
            raise CometError(f"train.curriculum_steps must be >= 0 (0: off), got {self.curriculum_steps}")
        if self.micro_batch < 0:
            raise CometError(f"train.micro_batch must be >= 0 (0: the whole batch), got {self.micro_batch}")
        if self.precision not in ("fp32", "bf16", "bf16-descent"):
            raise CometError(f"train.precision must be fp32, bf16 or bf16-descent, got {self.precision!r}")
        if self.lr <= 0 or self.grad_clip <= 0 or self.warmup < 0:
            raise CometError("train.lr and train.grad_clip must be > 0, train.warmup >= 0")
        if self.decay_steps < 0 or not 0 <= self.min_lr <= self.lr:
            raise CometError("train.decay_steps must be >= 0 and 0 <= train.min_lr <= train.lr")
        check_seed(self.seed)   # torch.manual_seed takes 0..2**63-1 (a negative one wraps silently)


@dataclass
class Recipe:
    model: CometConfig          # or a baseline's config (comet_zoo.architectures)
    train: TrainConfig

    @classmethod
    def from_dict(cls, data: dict) -> "Recipe":
        if not isinstance(data, dict) or set(data) - {"model", "train", "name", "description"}:
            raise CometError("a recipe is an object with 'model' and 'train' sections (and optional 'name', 'description')")
        train = data.get("train", {})
        for section in ("model", "train"):
            if not isinstance(data.get(section, {}), dict):
                raise CometError(f"the recipe's '{section}' section must be an object (KEY: VALUE …)")
        reject_unknown_keys(TrainConfig, train, "train keys")
        # The model section's `kind` (default comet) picks COMET or a baseline (comet_zoo.architectures).
        from ..architectures import config_from_dict

        return cls(config_from_dict(data.get("model", {})), TrainConfig(**train))

    @classmethod
    def load(cls, path: str | Path) -> "Recipe":
        path = Path(path)
        try:
            text = read_text(path, MAX_CONFIG_BYTES)   # a regular file of at most 1 MiB
        except OSError as exc:
            raise CometError(f"cannot read recipe {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise CometError(f"recipe {path} is not UTF-8 text") from None
        try:
            if path.suffix in {".yaml", ".yml"}:
                import yaml

                data = yaml.safe_load(text)
            else:
                data = json.loads(text)
        except Exception as exc:  # JSON or YAML syntax: one line, naming the file
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise CometError(f"recipe {path} is not valid {path.suffix[1:] or 'JSON'}: {first}") from None
        return cls.from_dict(data)

    def to_dict(self) -> dict:
        return {"model": self.model.to_dict(), "train": dataclasses.asdict(self.train)}


def resolve_recipe(recipe: str | Path) -> Path:
    """A recipe file path, or the name of a recipe bundled with comet-zoo (comet_zoo/recipes/NAME.json)."""
    from importlib import resources

    path = Path(recipe)
    if path.suffix in {".json", ".yaml", ".yml"} or path.exists():
        return path
    folder = resources.files("comet_zoo") / "recipes"
    bundled = folder / f"{recipe}.json"
    if bundled.is_file():
        return Path(str(bundled))
    names = sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))
    raise CometError(f"no recipe file or bundled recipe named {str(recipe)!r}; bundled: {', '.join(names)}")


DEFAULT_DATA_RECIPE = "photos-small"   # what `comet train --data ...` trains when no recipe is named


def data_spec(values: list[str], strict: bool = False) -> tuple[str, dict]:
    """`--data` values → (dataset, dataset_options).

    One value: a registered data set name (clevr), or your images: a folder, hf:ORG/NAME,
    a save_to_disk folder or parquet files (the `images` data set, its path made absolute
    so the model folder's recipe finds it from anywhere). Several values, each optionally
    `VALUE*WEIGHT`: a mixture of them. `strict` refuses bad files instead of skipping them."""
    from .. import registry

    if not values:
        raise CometError("--data needs a folder, hf:ORG/NAME, a save_to_disk folder, parquet files or a data set name")

    def one(value: str) -> tuple[str, dict, float]:
        text, weight = value, 1.0
        head, star, tail = value.rpartition("*")
        if star and head:
            try:
                weight = float(tail)
            except ValueError:
                raise CometError(f"--data {value}: the weight after * must be a number") from None
            text = head
        if not text.startswith("hf:") and not Path(text).exists() \
                and text in {p.name for p in registry.discover("datasets")} | {p.qualified for p in registry.discover("datasets")}:
            return text, {}, weight
        if not text.startswith("hf:"):
            path = Path(text).expanduser()
            if not path.exists():
                names = ", ".join(sorted({p.name for p in registry.discover("datasets")}))
                raise CometError(f"{text}: no such folder or file, and not a data set name ({names})")
            text = str(path.resolve())
        return "images", {"source": text, **({"strict": True} if strict else {})}, weight

    parsed = [one(v) for v in values]
    if len(parsed) == 1:
        return parsed[0][0], parsed[0][1]
    return "mixture", {"sources": [{"dataset": d, "options": o, "weight": w} for d, o, w in parsed]}


def apply_data(recipe: Recipe, dataset: str, options: dict, size: int | None = None,
               components: int | None = None) -> Recipe:
    """The recipe trained on another data set (`--data`), at another size and K if asked."""
    recipe.train.dataset, recipe.train.dataset_options = dataset, dict(options)
    model = recipe.model.to_dict()
    if size is not None:
        model["image_size"] = size
    if components is not None:
        # Extend or cut the recipe's positional-embedding pattern: all-global stays all-global.
        if "pos_embed" in model:
            pos = list(model["pos_embed"]) or [False]
            model["pos_embed"] = (pos + [pos[-1]] * components)[:components]
        model["num_components"] = components
    from ..architectures import config_from_dict

    recipe.model = config_from_dict(model)
    return recipe
