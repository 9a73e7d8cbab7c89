"""Concept cards: the README.md of an artifact, written and read through huggingface_hub.

The YAML front matter (ModelCardData) carries what programs need:

    library_name: comet-zoo
    tags: [...]; datasets: [...]; license; metrics: [mse]; model-index (eval results)
    model_name / version
    training: {recipe, model: {...config...}, train: {...}}
    exemplars: [exemplars/0.png, ...]
    concepts:
      - {name: obj0, index: 1, kind: local, description: ..., exemplar: exemplars/0.png}

The body (concept table, pictures, recipe, metrics) is generated from the same
data, never hand-copied. Sources of the zoo's cards live in cards/NAME.yaml.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .._io import MAX_CARD_BYTES, read_text
from ..errors import CometError, CometRuntimeError
from .manifest import check_path
from .names import check_name, check_version

KINDS = ("global", "local")
BASE_TAGS = ["comet", "energy-based-model", "unsupervised-decomposition"]
_CONCEPT = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass
class Concept:
    name: str          # obj0, light0, global0 …: the handle used on the command line
    index: int         # component k of the model
    kind: str          # "global" or "local"
    description: str = ""
    exemplar: str | None = "exemplars/0.png"   # image whose latent shows the concept by default (None: none)

    def to_dict(self) -> dict:
        return {"name": self.name, "index": self.index, "kind": self.kind,
                "description": self.description, "exemplar": self.exemplar}


@dataclass
class CardInfo:
    name: str
    version: str
    concepts: list[Concept]
    exemplars: list[str]
    dataset: str | None = None
    title: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    training: dict = field(default_factory=dict)
    text: str = ""   # the card body (markdown, without front matter)
    snapshot: Path | None = None

    def exemplar(self, index: int | None = None, concept: str | None = None) -> Path:
        """Path of exemplar `index`, else of the concept's own exemplar, else the first one."""
        if self.snapshot is None:
            raise CometError(f"{self.name}@{self.version}: the card is not attached to a snapshot")
        if index is None:
            rel = self.concept(concept).exemplar if concept else self.exemplars[0]
        elif 0 <= index < len(self.exemplars):
            rel = self.exemplars[index]
        else:
            raise CometError(f"{self.name}@{self.version} has exemplars 0..{len(self.exemplars) - 1}, not {index}")
        return self.snapshot / rel

    def concept(self, name: str) -> Concept:
        for c in self.concepts:
            if c.name == name:
                return c
        raise CometError(f"{self.name}@{self.version} has no concept {name!r}; "
                         f"its concepts: {', '.join(c.name for c in self.concepts)}")


def default_concepts(pos_embed: list[bool]) -> list[dict]:
    """obj0… for components with positional embedding (local), global0… for the others."""
    out, local, glob = [], 0, 0
    for k, pos in enumerate(pos_embed):
        if pos:
            out.append({"name": f"obj{local}", "kind": "local", "description": "an object"})
            local += 1
        else:
            out.append({"name": f"global{glob}", "kind": "global", "description": "a global factor"})
            glob += 1
    return out


def check_concepts(raw: list, num_components: int, exemplars: list[str], where: str) -> list[Concept]:
    if not isinstance(raw, list) or len(raw) != num_components:
        raise CometError(f"{where}: 'concepts' must list one entry per component ({num_components})")
    concepts = []
    for k, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not _CONCEPT.fullmatch(item["name"]):
            raise CometError(f"{where}: concept {k} needs a name like obj0 or light0")
        kind = item.get("kind", "local")
        if kind not in KINDS:
            raise CometError(f"{where}: concept {item['name']} has kind {kind!r}; use global or local")
        index = item.get("index", k)
        if index != k:
            raise CometError(f"{where}: concept {item['name']} is listed at position {k} but has index {index}")
        exemplar = item.get("exemplar", 0)
        if isinstance(exemplar, int) and 0 <= exemplar < len(exemplars):
            exemplar = exemplars[exemplar]
        if exemplar not in exemplars:
            raise CometError(f"{where}: concept {item['name']} names exemplar {exemplar!r}, not among {exemplars}")
        concepts.append(Concept(item["name"], k, kind, str(item.get("description", "")), exemplar))
    names = [c.name for c in concepts]
    if len(set(names)) != len(names):
        raise CometError(f"{where}: concept names must be unique, got {names}")
    return concepts


def load_source(path: str | Path) -> dict:
    """A card source (cards/NAME.yaml): title, summary, recipe, concepts, tags, note, and
    figures (a list of {title, path}: PNGs copied into the artifact and shown on the card)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(read_text(path, MAX_CARD_BYTES))
    except OSError as exc:
        raise CometError(f"cannot read card source {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CometError(f"card source {path} is not UTF-8 text") from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise CometError(f"card source {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise CometError(f"card source {path}: expected a mapping")
    unknown = sorted(str(key) for key in set(data) - set(SOURCE_TYPES))
    if unknown:
        raise CometError(f"card source {path}: unknown keys {', '.join(unknown)}")
    for key, (kinds, word) in SOURCE_TYPES.items():
        value = data.get(key)
        if value is None:
            continue
        ok = isinstance(value, kinds) and not isinstance(value, bool)
        if ok and key == "tags":
            ok = all(isinstance(tag, str) for tag in value)
        if ok and key == "concepts":
            ok = all(isinstance(item, dict) for item in value)
        if ok and key == "figures":
            ok = all(isinstance(f, dict) and isinstance(f.get("title"), str) and isinstance(f.get("path"), str)
                     for f in value)
        if not ok:
            raise CometError(f"card source {path}: {key} must be {word}, got {value!r:.60}")
    if "exemplars" in data and not 1 <= data["exemplars"] <= 16:
        raise CometError(f"card source {path}: exemplars must be 1..16, got {data['exemplars']}")
    return data


# What each field of a card source holds: (accepted types, how the error says it).
SOURCE_TYPES = {
    "name": (str, "a model name"), "title": (str, "text"), "summary": (str, "text"), "note": (str, "text"),
    "recipe": (str, "a recipe file or bundled recipe name"), "dataset": (str, "a data-set name"),
    "license": (str, "a license id such as mit"), "tags": (list, "a list of words"),
    "exemplars": (int, "a number of exemplars (1..16)"), "concepts": (list, "a list of concepts"),
    "figures": (list, "a list of {title, path}"),
}


def _table(rows: list[list[str]], header: list[str]) -> str:
    clean = lambda s: str(s).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(clean(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def dataset_id(plugin: str) -> str:
    """The Hub data-set id of our procedural renders: never the real benchmark's name (our
    `clevr` is 32-px ray-cast scenes, not the CLEVR data set)."""
    return f"comet-zoo/{plugin}-procedural"


def dataset_naming(dataset: str | None, data_source: dict | None = None) -> tuple[list[str] | None, str]:
    """(Hub data-set ids, the name the card gives the data). Renders are named as renders;
    your own images by what they are (comet_zoo.data.provenance): never as a benchmark."""
    if data_source is not None:
        return data_source.get("hub_ids") or None, data_source["text"]
    if dataset in ("images", "mixture"):   # no record of which collection: say only what it is
        return None, "a collection of images" if dataset == "images" else "a mixture of data sets"
    return ([dataset_id(dataset)] if dataset else None), f"{dataset} (comet-zoo procedural renders)"


def metric_task(key: str) -> tuple[str, str]:
    """(Hub task type, task name) of a metric, so each group gets its own model-index task."""
    if key.startswith("recombination"):
        return "image-to-image", "recombination"
    if "ari" in key or key.startswith(("msc", "wsc")):
        return "image-segmentation", "unsupervised object segmentation"
    if key.startswith(("mig", "mcc", "dci", "betavae")):
        return "image-feature-extraction", "disentanglement"
    return "image-to-image", "reconstruction"


def render(*, name: str, version: str, source: dict, config: dict, training: dict,
           exemplars: list[str], metrics: dict[str, float], dataset: str | None,
           reconstructions: str | None = None, figures: list[tuple[str, str]] = (),
           facts: list[tuple[str, str]] = (), data_source: dict | None = None):
    """The concept card as a huggingface_hub ModelCard (front matter + generated body)."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    check_name(name)
    check_version(version)
    raw = source.get("concepts") or default_concepts(config.get("pos_embed") or [True] * config["num_components"])
    concepts = check_concepts(raw, config["num_components"], exemplars, f"card of {name}")
    title = source.get("title") or f"COMET: {name}"
    tags = BASE_TAGS + [t for t in source.get("tags", []) if t not in BASE_TAGS]
    hub_ids, data_name = dataset_naming(dataset, data_source)
    hub_dataset = hub_ids[0] if hub_ids else (dataset or "unknown")
    eval_results = [EvalResult(task_type=metric_task(key)[0], task_name=metric_task(key)[1],
                               dataset_type=hub_dataset, dataset_name=data_name,
                               dataset_split="test", metric_type=key, metric_name=key, metric_value=float(value))
                    for key, value in metrics.items()]
    data = ModelCardData(
        library_name="comet-zoo", license=source.get("license", "mit"), tags=tags,
        pipeline_tag="image-to-image",   # images in, images out: reconstruct, decompose, recombine
        datasets=hub_ids, comet_dataset=dataset,
        metrics=sorted(metrics), model_name=name,
        eval_results=eval_results or None,
        version=version, training=training, exemplars=exemplars,
        concepts=[c.to_dict() for c in concepts],
    )
    body = [f"# {title} ({name}@{version})", ""]
    if source.get("summary"):
        body += [source["summary"].strip(), ""]
    if source.get("note"):
        body += [f"> **Note.** {source['note'].strip()}", ""]
    if data_source is not None:
        body += ["## Training data", "", f"Trained on {data_source['text']}.", ""]
    body += ["## Concepts", "",
             _table([[c.name, c.index, c.kind, c.description, f"![{c.name}]({c.exemplar})"] for c in concepts],
                    ["name", "component", "kind", "description", "exemplar"]), ""]
    body += ["## Exemplars", "", "Test renders; a component's latent is inferred from its exemplar unless "
             "another image is given.", "", " ".join(f"![exemplar {i}]({e})" for i, e in enumerate(exemplars)), ""]
    if reconstructions:
        body += ["Exemplars (top) over their reconstructions (bottom):", "", f"![reconstructions]({reconstructions})", ""]
    for title_, rel in figures:  # (title, path inside the artifact)
        body += [f"## {title_}", "", f"![{title_}]({rel})", ""]
    if metrics:
        body += ["## Metrics", "", _table([[k, f"{v:.5f}"] for k, v in metrics.items()], ["metric (test split)", "value"]), ""]
    body += ["## Model", "", _table([[k, v] for k, v in [*facts, *config.items()]], ["config", "value"]), ""]
    if training.get("train"):
        body += ["## Training", "", f"Recipe `{training.get('recipe', '?')}`:", "",
                 _table([[k, v] for k, v in training["train"].items()], ["train", "value"]), ""]
    body += ["## Paper", "", "Du, Li, Sharma, Tenenbaum, Mordatch: *Unsupervised Learning of Compositional "
             "Energy Concepts*, NeurIPS 2021 ([arXiv:2111.03042](https://arxiv.org/abs/2111.03042)). "
             "Trained and published with comet-zoo.", ""]
    body += ["## Use", "", "```bash", f"comet pull {name}@{version}", f"comet card {name}", "```", "",
             "```python", "from comet_zoo.hub import load_model", f'model = load_model("{name}@{version}")', "```", ""]
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(body))


def read_card(snapshot: str | Path) -> CardInfo:
    """Parse the README.md of a snapshot with huggingface_hub's ModelCard; validate the concepts."""
    from huggingface_hub import EvalResult, ModelCard

    path = Path(snapshot) / "README.md"
    if not path.is_file():
        raise CometError(f"{snapshot}: no README.md concept card")
    text = _read_readme(path, snapshot)
    try:   # huggingface_hub's parser meets hub text: any failure of it is an unreadable card
        card = ModelCard(text, ignore_metadata_errors=True)
        data = card.data.to_dict()
        results = [r for r in (card.data.eval_results or []) if isinstance(r, EvalResult)]
        model_name = card.data.model_name
    except Exception as exc:
        raise CometError(f"{path}: unreadable concept card ({(str(exc).splitlines() or [type(exc).__name__])[0]})") from None
    exemplars = data.get("exemplars") or []
    raw = data.get("concepts")
    if not isinstance(raw, list) or not isinstance(exemplars, list) or not all(isinstance(e, str) for e in exemplars):
        raise CometError(f"{path}: the card has no concepts list")
    for rel in exemplars:  # opened later by the composer: they must stay inside the snapshot
        check_path(rel, f"{path}: exemplar")
    # model_name lives in the model-index; a card without metrics falls back to the folder names.
    name = model_name if isinstance(model_name, str) and model_name else Path(snapshot).resolve().parent.name
    version = str(data.get("version") or Path(snapshot).resolve().name)
    # Hub text: only well-typed values go on (a data set given as a list, a metric as text, …).
    metrics = {str(r.metric_type): float(r.metric_value) for r in results
               if isinstance(r.metric_value, (int, float)) and not isinstance(r.metric_value, bool)}
    training = data.get("training")
    return CardInfo(
        name=str(name), version=version, concepts=check_concepts(raw, len(raw), exemplars, str(path)),
        exemplars=exemplars, dataset=_first_text(data.get("comet_dataset")) or _first_text(data.get("datasets")),
        title=card.text.strip().splitlines()[0].lstrip("# ") if card.text.strip() else str(name),
        metrics=metrics, training=training if isinstance(training, dict) else {}, text=card.text,
        snapshot=Path(snapshot),
    )


def _first_text(value) -> str | None:
    """A card field that names one thing: the text itself, or the first text of a list."""
    if isinstance(value, list):
        value = next((v for v in value if isinstance(v, str)), None)
    return value if isinstance(value, str) and value else None


def _read_readme(path: Path, folder: str | Path) -> str:
    """A card's text: a regular file of at most MAX_CARD_BYTES inside its folder."""
    try:
        return read_text(path, MAX_CARD_BYTES, inside=folder)
    except UnicodeDecodeError:
        raise CometError(f"{path}: the concept card is not UTF-8 text") from None
    except OSError as exc:
        raise CometRuntimeError(f"cannot read {path}: {exc.strerror or exc}") from None


def check_fits(info: CardInfo, num_components: int, where: str) -> CardInfo:
    """A card names components of its model: each concept's index must be < K."""
    for concept in info.concepts:
        if concept.index >= num_components:
            raise CometError(f"{where}: the card's concept {concept.name} is component {concept.index}, "
                             f"but the model has {num_components} components (0..{num_components - 1})")
    return info


def read_card_or_default(folder: str | Path, pos_embed: list[bool]) -> CardInfo:
    """The card of a snapshot, or for a model folder without a concept card (straight from
    `comet train`: at most the mixin's README) the default concepts of its `pos_embed` and
    no exemplars: a source image is then given."""
    readme = Path(folder) / "README.md"
    if readme.is_file() and "\nconcepts:" in _read_readme(readme, folder).split("\n---", 1)[0]:
        return check_fits(read_card(folder), len(pos_embed), str(folder))
    name = Path(folder).resolve().name
    concepts = [Concept(c["name"], k, c["kind"], c["description"], exemplar=None)
                for k, c in enumerate(default_concepts(pos_embed))]
    return CardInfo(name=name, version="local", concepts=concepts, exemplars=[], title=name, snapshot=Path(folder))


EVAL_BEGIN, EVAL_END = "<!-- comet-eval -->", "<!-- /comet-eval -->"


def write_metrics(folder: str | Path, metrics: dict[str, float], *, dataset: str, split: str = "test",
                  n: int | None = None, note: str = "", readout: dict | None = None,
                  data_source: dict | None = None) -> Path:
    """Write evaluation metrics into a model folder's card (README.md), atomically.

    Front matter: each metric becomes an eval result of the model-index (the values
    `read_card` returns as CardInfo.metrics) and its name joins `metrics`; body: an
    "Evaluation" table between comet-eval markers, replaced on each call. Metrics of
    earlier evaluations with other names are kept. A folder without a card gets a
    minimal one (a model fresh from `comet train`). `readout` (the report's segmentation
    read-out, a Readout's dict) goes into the front matter beside the metrics it produced:
    `comet eval` then reads the model's segmentation the same way by default (card_readout).
    """
    from huggingface_hub import EvalResult, ModelCard

    from .._io import atomic_path

    folder = Path(folder)
    path = folder / "README.md"
    if not folder.is_dir():
        raise CometError(f"{folder} is not a model folder")
    if path.is_file():
        try:
            card = ModelCard(_read_readme(path, folder), ignore_metadata_errors=True)
        except CometError:
            raise
        except Exception as exc:
            raise CometError(f"{path}: unreadable card ({str(exc).splitlines()[0]})") from None
    else:
        card = ModelCard(f"---\nlibrary_name: comet-zoo\ntags: {BASE_TAGS}\n---\n\n# {folder.resolve().name}\n")
    data = card.data
    data.model_name = data.model_name or folder.resolve().name   # the model-index needs one
    new = [EvalResult(task_type=metric_task(key)[0], task_name=metric_task(key)[1],
                      dataset_type=(dataset_naming(dataset, data_source)[0] or [dataset])[0],
                      dataset_name=dataset_naming(dataset, data_source)[1],
                      dataset_split=split, metric_type=key, metric_name=key, metric_value=float(value))
           for key, value in metrics.items()]
    kept = [r for r in (data.eval_results or []) if r.metric_type not in metrics]
    data.eval_results = kept + new
    data.metrics = sorted(set(data.metrics or []) | set(metrics))
    if readout is not None:
        data.segmentation_readout = dict(readout)
        note = (f"Segmentation read out with smooth {readout.get('smooth')}, threshold {readout.get('threshold')}, "
                f"vote {readout.get('vote')} (`comet eval`'s default for this model). " + note).strip()
    scenes = f"{n} {split} scenes" if n else f"the {split} split"
    table = _table([[k, "inf" if v == float("inf") else f"{v:.4f}"] for k, v in metrics.items()], ["metric", "value"])
    section = "\n".join([EVAL_BEGIN, "## Evaluation", "", f"`comet eval` on {scenes} of `{dataset}`"
                         + (f" ({data_source['text']})." if data_source else ".")
                         + (f" {note}" if note else ""), "", table, EVAL_END])
    text = card.text
    if EVAL_BEGIN in text and EVAL_END in text:
        text = text[:text.index(EVAL_BEGIN)] + section + text[text.index(EVAL_END) + len(EVAL_END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    out = ModelCard(f"---\n{data.to_yaml()}\n---\n{text}")
    with atomic_path(path) as tmp:
        tmp.write_text(str(out), encoding="utf-8")
    return path


def card_readout(folder: str | Path) -> dict | None:
    """The segmentation read-out (a Readout's dict) that a model folder's card records for
    its metrics (written by `write_metrics`), or None when it records none."""
    from huggingface_hub import ModelCard

    path = Path(folder) / "README.md"
    if not path.is_file():
        return None
    try:
        return ModelCard(_read_readme(path, folder), ignore_metadata_errors=True).data.to_dict().get("segmentation_readout")
    except Exception:   # an unreadable card records nothing; `comet card` reports what is wrong with it
        return None
