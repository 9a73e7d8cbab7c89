"""Which models a request of the web demo may name: the models of the configured hubs
that the operator serves, and nothing else.

A request names a model by reference text (a menu entry, a typed spec, an API call's
value). That text is matched against the served models before anything is resolved:
a local folder, a `file://` hub or a hub the demo does not serve is refused with one
message that does not depend on the server's disk, and a bare name is pinned to the
one served hub that publishes it, so resolving it never asks any other hub.

Configured `file://` hubs (COMET_HUB or the config file) are served only when the
operator opts in on the command line (`comet demo --allow-local`); `bundled` and
`hf://` hubs are served as configured. A model folder is served only when the operator
names it (`comet demo --model ./runs/x/model`), and a request names it by that text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CometError
from ..hub.names import Ref, is_path, parse_ref
from .limits import Limits


def _not_served(text: str) -> CometError:
    from .._text import visible

    return CometError(f"{visible(text)}: this demo serves only the models in its menu; local folders, file:// hubs "
                      "and other hubs are not served to requests")


@dataclass
class Served:
    hubs: list[str]                                      # hub URLs whose models are served
    entries: list = field(default_factory=list)          # hub.Entry of each served model
    checked: dict = field(default_factory=dict)          # snapshot folder → its config, read once
    folders: dict = field(default_factory=dict)          # the operator's text → a model folder it names

    @classmethod
    def from_config(cls, allow_local: bool = False, folders=()) -> "Served":
        """The configured hubs' models, without file:// hubs unless `allow_local`, and the model
        `folders` the operator names."""
        from .. import hub
        from ..hub.backends import open_hub

        urls = [open_hub(url).url for url in hub.hub_urls()]
        served = [u for u in urls if allow_local or not u.startswith("file://")]
        entries = [e for e in hub.catalog() if e.configured and e.hub in served]
        result = cls(served, entries)
        for text in folders:
            result.add_folder(text)
        return result

    def add_folder(self, text: str) -> None:
        """Serve the model folder `text` (from the operator's command line) under that name."""
        from ..core.config import CometConfig, read_config_json
        from ..hub import Entry
        from ..hub.cards import read_card_or_default

        path = Path(text).expanduser()
        if not path.is_dir():
            raise CometError(f"--model {text}: not a model folder")
        config = read_config_json(path)
        if config.get("kind", "comet") != "comet":
            raise CometError(f"--model {text}: the demo composes COMET models, not {config.get('kind')!r}")
        pos_embed = CometConfig.from_dict({k: v for k, v in config.items() if k != "kind"}).pos_embed
        card = read_card_or_default(path, pos_embed)
        self.folders[text] = path
        self.entries.append(Entry(text, f"folder:{path}", ref=text, concepts=[c.name for c in card.concepts]))

    @property
    def models(self) -> list[str]:
        """Each served model as the menu names it (bare unless two hubs publish the name)."""
        return [e.ref for e in self.entries]

    @property
    def concepts(self) -> list[str]:
        """MODEL:CONCEPT for every concept the served models' cards name."""
        return [f"{e.ref}:{c}" for e in self.entries for c in e.concepts]

    def ref(self, text) -> Ref:
        """A request's model reference text → the served model's reference, pinned to its hub."""
        if not isinstance(text, str) or not text:
            raise CometError("pick a model")
        if text in self.folders:                  # exactly as the operator named it
            return Ref(path=self.folders[text])
        # Paths and file:// hubs are refused on the text alone: not even `~user` is looked up.
        if is_path(text) or text.startswith("file://"):
            raise _not_served(text)
        ref = parse_ref(text)
        if ref.path is not None or (ref.hub is not None and ref.hub not in self.hubs):
            raise _not_served(text)
        mine = [e for e in self.entries if e.name == ref.name and (ref.hub is None or e.hub == ref.hub)]
        if not mine:
            known = ", ".join(self.models) or "none"
            raise CometError(f"unknown model {ref.name!r}; this demo serves: {known}")
        if len(mine) > 1:
            raise CometError(f"{ref.name} is published by {len(mine)} hubs ({', '.join(e.ref for e in mine)}); "
                             "name the one you mean")
        return Ref(ref.name, ref.version, mine[0].hub)

    def redact(self, text: str) -> str:
        """`text` without the server's folders: a served file:// hub's models by their names, the cache as COMET_HOME."""
        from .. import hub

        for url in self.hubs:
            if url.startswith("file://"):
                text = text.replace(url + "/", "").replace(url, "a local hub")
        return text.replace(str(hub.home()), "COMET_HOME")

    def check_model(self, ref: Ref, limits: Limits) -> None:
        """Refuse a served model whose config asks for more than the demo allows (read once per version)."""
        from .. import hub
        from ..core.config import read_config_json

        key, snapshot = self.redact(str(ref)), hub.resolve(ref)
        if snapshot not in self.checked:
            self.checked[snapshot] = read_config_json(snapshot)
        config = self.checked[snapshot]

        def number(name: str, default: int) -> int:
            value = config.get(name, default)
            return value if isinstance(value, int) and not isinstance(value, bool) else default

        for name, default, bound, what in (
                ("image_size", 64, limits.canvas, "pixels a side"),
                ("steps", 10, limits.model_steps, "descent steps per picture (N)"),
                ("refine_steps", 0, limits.refine_steps, "steps of latent refinement per image")):
            if number(name, default) > bound:
                raise CometError(f"{key} asks for {number(name, default)} {what}; this demo serves models up to "
                                 f"{bound} (its {name} bound)")
