"""MkDocs hook: the zoo page's model gallery, generated from the bundled zoo at build time.

For the newest bundled version of each model it shows what the model's own concept card
says (title, summary, concepts, headline metrics beside their trivial baselines) and its
pictures (exemplars over their reconstructions, decomposition, recombination), copied from
the artifact itself. A new zoo version therefore updates the page without an edit.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File

MARKER = "<!-- zoo-models -->"
PAGE = "zoo.md"
SITE_DIR = "zoo/models"   # where the artifacts' pictures land in the site

# (metric key, label, baseline keys and their labels): what a reader compares first.
SEGMENTATION = ("fg_ari", "fg-ARI", [("fg_ari_stripes", "stripes"), ("fg_ari_grid", "grid"),
                                     ("fg_ari_kmeans", "k-means colour")])
SEGMENTATION_MORE = [("ari", "ARI", [("ari_kmeans", "k-means colour")]),
                     ("msc", "covering", [("msc_kmeans", "k-means colour")])]
DISENTANGLEMENT = [("betavae", "BetaVAE", [("betavae_random_projection", "random projection")]),
                   ("mig", "MIG", [("mig_random_projection", "random projection")]),
                   ("mcc", "MCC", [("mcc_random_projection", "random projection")])]


def newest_snapshots() -> list[Path]:
    """The newest version folder of every model in the bundled zoo, by name."""
    import comet_zoo
    from comet_zoo.hub.names import sort_versions

    zoo = Path(comet_zoo.__file__).parent / "zoo"
    out = []
    for model in sorted(p for p in zoo.iterdir() if p.is_dir()):
        versions = sort_versions([v.name for v in model.iterdir() if v.is_dir()])
        if versions:
            out.append(model / versions[-1])
    return out


def _metric_rows(metrics: dict) -> list[str]:
    groups = [SEGMENTATION, *SEGMENTATION_MORE] if "fg_ari" in metrics else DISENTANGLEMENT
    rows = []
    for key, label, baselines in groups:
        if key not in metrics:
            continue
        beside = ", ".join(f"{name} {metrics[b]:.3f}" for b, name in baselines if b in metrics)
        rows.append(f"| {label} | **{metrics[key]:.3f}** | {beside or '–'} |")
    if "mse" in metrics:
        rows.append(f"| reconstruction MSE | **{metrics['mse']:.4f}** | mean image {metrics.get('mse_mean_image', float('nan')):.4f} |")
    return rows


def _summary(card) -> str:
    """The first paragraph of the card's body after its title."""
    paragraphs = [p.strip() for p in card.text.split("\n\n") if p.strip()]
    body = [p for p in paragraphs if not p.startswith("#")]
    return body[0] if body else ""


def model_markdown(snapshot: Path) -> str:
    from comet_zoo.hub.cards import read_card

    card = read_card(snapshot)
    base = f"{SITE_DIR}/{card.name}/{card.version}"
    lines = [f"### `{card.name}` {card.version}: {card.title.split(' (')[0]}", "", _summary(card), ""]
    lines += ["| concept | kind | what it is |", "|---|---|---|"]
    lines += [f"| `{c.name}` | {c.kind} | {c.description} |" for c in card.concepts]
    rows = _metric_rows(card.metrics)
    if rows:
        lines += ["", f"On the card's {card.dataset} test renders:", "",
                  "| metric | this model | trivial baselines |", "|---|---|---|", *rows]
    lines += ["", "Exemplars (top) over the model's reconstructions (bottom):", "",
              f"![{card.name} reconstructions]({base}/reconstructions.png)", ""]
    for figure in sorted((snapshot / "figures").glob("*.png")):
        title = "Decomposition" if "decompose" in figure.name else "Recombination" if "recombine" in figure.name else figure.stem
        lines += [f"**{title}**", "", f"![{card.name} {title.lower()}]({base}/figures/{figure.name})", ""]
    lines += [f"`comet card {card.name}` prints the whole card: recipe, training, every metric.", ""]
    return "\n".join(lines)


def on_files(files, config):
    for snapshot in newest_snapshots():
        name, version = snapshot.parent.name, snapshot.name
        pictures = [snapshot / "reconstructions.png", *sorted((snapshot / "figures").glob("*.png"))]
        for picture in pictures:
            if picture.is_file():
                rel = picture.relative_to(snapshot).as_posix()
                files.append(File.generated(config, f"{SITE_DIR}/{name}/{version}/{rel}", abs_src_path=str(picture)))
    return files


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri != PAGE or MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, "\n".join(model_markdown(s) for s in newest_snapshots()))
